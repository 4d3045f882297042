{{/* A HorizontalPodAutoscaler on CPU for a component: autoscaling/v2 where the cluster serves it (1.23+), v2beta2 before. */}}
{{- define "lambent.hpa" -}}
{{- $autoscaling := .values.autoscaling -}}
{{- if $autoscaling.enabled }}
{{- if lt (int $autoscaling.maxReplicas) (int $autoscaling.minReplicas) }}{{ fail (printf "%s.autoscaling.maxReplicas must be at least its minReplicas" .component) }}{{ end }}
apiVersion: {{ if .root.Capabilities.APIVersions.Has "autoscaling/v2" }}autoscaling/v2{{ else }}autoscaling/v2beta2{{ end }}
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "lambent.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "lambent.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "lambent.componentName" . }}
  minReplicas: {{ $autoscaling.minReplicas }}
  maxReplicas: {{ $autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}
