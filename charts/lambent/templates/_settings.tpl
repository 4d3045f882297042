{{/* The LAMBENT_* settings of the ConfigMap (and of the migrations' copy of it). */}}
{{- define "lambent.settings" -}}
{{- $api := include "lambent.componentName" (dict "root" . "component" "api") -}}
{{- $hosts := list "localhost" "127.0.0.1" $api (printf "%s.%s" $api .Release.Namespace) (printf "%s.%s.svc" $api .Release.Namespace) -}}
{{- if .Values.api.ingress.enabled }}{{ range .Values.api.ingress.hosts }}{{ $hosts = append $hosts .host }}{{ end }}{{ end -}}
{{- $hosts = concat $hosts .Values.settings.allowedHosts | uniq -}}
LAMBENT_ENV: production
LAMBENT_DATA_DIR: /var/lib/lambent
LAMBENT_ALLOWED_HOSTS: {{ join "," $hosts | quote }}
LAMBENT_REGION: {{ .Values.settings.region | quote }}
LAMBENT_PARTITION: {{ .Values.settings.partition | quote }}
LAMBENT_LOG_LEVEL: {{ .Values.settings.logLevel | quote }}
LAMBENT_BIND: {{ include "lambent.listen" (dict "root" . "port" .Values.api.port) | quote }}
LAMBENT_WORKER_CONCURRENCY: {{ .Values.worker.concurrency | quote }}
LAMBENT_WORKER_METRICS_BIND: {{ include "lambent.listen" (dict "root" . "port" .Values.worker.metricsPort) | quote }}
LAMBENT_EXECUTOR_METRICS_BIND: {{ include "lambent.listen" (dict "root" . "port" .Values.executor.metricsPort) | quote }}
LAMBENT_EXECUTOR_ADDRESS: {{ include "lambent.executorAddress" . | quote }}
LAMBENT_EXECUTOR_BIND: {{ include "lambent.listen" (dict "root" . "port" .Values.executor.port) | quote }}
LAMBENT_EXECUTOR_BACKEND: worker.executors.kubernetes.KubernetesExecutor
LAMBENT_CODE_STORAGE: {{ .Values.codeStorage.backend | quote }}
LAMBENT_KUBERNETES_INSTALLATION: {{ include "lambent.installation" . | quote }}
LAMBENT_KUBERNETES_NAMESPACE_PATTERN: {{ include "lambent.namespacePattern" . | quote }}
LAMBENT_KUBERNETES_PLATFORM_NAMESPACE: {{ .Release.Namespace | quote }}
LAMBENT_KUBERNETES_PLATFORM_POD_SELECTOR: {{ printf "app.kubernetes.io/instance=%s,lambent.dev/reaches-sandboxes=true" .Release.Name | quote }}
LAMBENT_KUBERNETES_IMAGES: {{ include "lambent.runtimeImages" . | quote }}
LAMBENT_KUBERNETES_POOL_SIZE: {{ .Values.sandboxes.poolSize | quote }}
{{- with .Values.sandboxes.poolSizes }}
LAMBENT_KUBERNETES_POOL_SIZES: {{ include "lambent.pairs" . | quote }}
{{- end }}
{{- with .Values.sandboxes.runtimeClassName }}
LAMBENT_KUBERNETES_RUNTIME_CLASS: {{ . | quote }}
{{- end }}
{{- with .Values.sandboxes.imagePullSecrets }}
LAMBENT_KUBERNETES_IMAGE_PULL_SECRETS: {{ join "," . | quote }}
{{- end }}
LAMBENT_KUBERNETES_AGENT_PORT: {{ .Values.sandboxes.agentPort | quote }}
LAMBENT_KUBERNETES_USER_NAMESPACES: {{ .Values.sandboxes.userNamespaces | quote }}
LAMBENT_KUBERNETES_EGRESS_ALLOWED: {{ join "," .Values.sandboxes.egressAllowed | quote }}
LAMBENT_KUBERNETES_EGRESS_EXCEPT: {{ join "," .Values.sandboxes.egressExcept | quote }}
{{- with .Values.sandboxes.clusterNetworks }}
LAMBENT_KUBERNETES_CLUSTER_NETWORKS: {{ join "," . | quote }}
{{- end }}
LAMBENT_KUBERNETES_CODE_BIND: {{ include "lambent.listen" (dict "root" . "port" .Values.executor.codePort) | quote }}
LAMBENT_KUBERNETES_CODE_URL: {{ include "lambent.codeUrl" . | quote }}
LAMBENT_KUBERNETES_MILLICPU_PER_GB: {{ .Values.sandboxes.millicpuPerGb | quote }}
LAMBENT_KUBERNETES_POD_START_SECONDS: {{ .Values.sandboxes.podStartSeconds | quote }}
LAMBENT_KUBERNETES_HOST_NETWORK: {{ .Values.testbed.enabled | quote }}
{{- if .Values.testbed.enabled }}
LAMBENT_KUBERNETES_HOST_PORTS: {{ .Values.testbed.hostPorts | quote }}
{{- end }}
{{- range $name, $value := .Values.settings.extra }}
{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* key=value,... of a map, keys sorted. */}}
{{- define "lambent.pairs" -}}
{{- $pairs := list -}}
{{- range $key, $value := . }}{{ $pairs = append $pairs (printf "%s=%v" $key $value) }}{{ end -}}
{{- join "," $pairs -}}
{{- end -}}
