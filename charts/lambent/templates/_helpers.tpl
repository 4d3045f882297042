{{/*
Names, labels and the pieces every platform pod shares. A component (api, worker, beat, executor,
migrate, test, cleanup) is passed as (dict "root" $ "component" "api").
*/}}

{{- define "lambent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lambent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* An object's name: the full name and the component, within 63 characters. */}}
{{- define "lambent.componentName" -}}
{{- printf "%s-%s" (include "lambent.fullname" .root | trunc (int (sub 62 (len .component)))) .component | replace "--" "-" -}}
{{- end -}}

{{- define "lambent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lambent.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "lambent.labels" -}}
{{ include "lambent.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: lambent
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels of the pods that may reach the sandboxes' agents (LAMBENT_KUBERNETES_PLATFORM_POD_SELECTOR). */}}
{{- define "lambent.platformPodLabels" -}}
lambent.dev/reaches-sandboxes: "true"
{{- end -}}

{{- define "lambent.installation" -}}
{{- default (include "lambent.fullname" . | trunc 50 | trimSuffix "-") .Values.sandboxes.installation -}}
{{- end -}}

{{- define "lambent.namespacePattern" -}}
{{- default (printf "%s-{account_id}" (include "lambent.installation" .)) .Values.sandboxes.namespacePattern -}}
{{- end -}}

{{- define "lambent.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* LAMBENT_KUBERNETES_IMAGES: runtime=image,... */}}
{{- define "lambent.runtimeImages" -}}
{{- $images := list -}}
{{- range $runtime, $image := .Values.sandboxes.images -}}
{{- if $image.digest -}}
{{- $images = append $images (printf "%s=%s@%s" $runtime $image.repository $image.digest) -}}
{{- else -}}
{{- $images = append $images (printf "%s=%s:%s" $runtime $image.repository $image.tag) -}}
{{- end -}}
{{- end -}}
{{- join "," $images -}}
{{- end -}}

{{- define "lambent.secretName" -}}
{{- default (include "lambent.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "lambent.executorServiceAccount" -}}
{{- if .Values.executor.serviceAccount.create -}}
{{- default (include "lambent.componentName" (dict "root" . "component" "executor")) .Values.executor.serviceAccount.name -}}
{{- else -}}
{{- required "executor.serviceAccount.name is required when executor.serviceAccount.create is false" .Values.executor.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lambent.codeClaim" -}}
{{- default (include "lambent.componentName" (dict "root" . "component" "code")) .Values.codeStorage.existingClaim -}}
{{- end -}}

{{/* Where a process listens: every interface in a pod, its own 127.0.0.1 port on a test bed. */}}
{{- define "lambent.listen" -}}
{{- if .root.Values.testbed.enabled -}}127.0.0.1:{{ .port }}{{- else -}}0.0.0.0:{{ .port }}{{- end -}}
{{- end -}}

{{/* How the api and worker processes reach the executor: its Service, or its port on a test bed. */}}
{{- define "lambent.executorAddress" -}}
{{- if .Values.testbed.enabled -}}
127.0.0.1:{{ .Values.executor.port }}
{{- else -}}
{{ include "lambent.componentName" (dict "root" . "component" "executor") }}.{{ .Release.Namespace }}.svc:{{ .Values.executor.port }}
{{- end -}}
{{- end -}}

{{- define "lambent.codeUrl" -}}
{{- if .Values.testbed.enabled -}}
http://127.0.0.1:{{ .Values.executor.codePort }}
{{- else -}}
http://{{ include "lambent.componentName" (dict "root" . "component" "executor") }}.{{ .Release.Namespace }}.svc:{{ .Values.executor.codePort }}
{{- end -}}
{{- end -}}

{{- define "lambent.apiUrl" -}}
{{- if .Values.testbed.enabled -}}
http://127.0.0.1:{{ .Values.api.port }}
{{- else -}}
http://{{ include "lambent.componentName" (dict "root" . "component" "api") }}.{{ .Release.Namespace }}.svc:{{ .Values.api.service.port }}
{{- end -}}
{{- end -}}

{{/* The environment of every platform container: the settings' ConfigMap, the secrets by reference. */}}
{{- define "lambent.env" -}}
envFrom:
  - configMapRef:
      name: {{ .configMap | default (include "lambent.fullname" .root) }}
env:
{{- $secret := .secret | default (include "lambent.secretName" .root) }}
{{- range $variable, $key := dict "LAMBENT_SECRET_KEY" "secret-key" "LAMBENT_MASTER_KEY" "master-key" "LAMBENT_DATABASE_URL" "database-url" "LAMBENT_REDIS_URL" "redis-url" }}
  - name: {{ $variable }}
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ $key }}
{{- end }}
  # Set only where the Secret has one: /metrics is then readable with it as a bearer token.
  - name: LAMBENT_METRICS_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: metrics-token
        optional: true
{{- if .root.Values.testbed.enabled }}
{{- $server := required "testbed.apiServer (host:port) is required with testbed.enabled" .root.Values.testbed.apiServer }}
  # A host-network pod of the test bed reaches the API server on loopback, not at its Service.
  - name: KUBERNETES_SERVICE_HOST
    value: {{ (split ":" $server)._0 | quote }}
  - name: KUBERNETES_SERVICE_PORT
    value: {{ (split ":" $server)._1 | quote }}
{{- end }}
{{- end -}}

{{/* What every platform pod's spec starts with. */}}
{{- define "lambent.podSpec" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
enableServiceLinks: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- if .root.Values.testbed.enabled }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The platform container's fixed part: image, security context. */}}
{{- define "lambent.container" -}}
image: {{ include "lambent.image" .root | quote }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* The data directory every process writes to (LAMBENT_DATA_DIR) and /tmp: emptyDirs, the root being read-only. */}}
{{- define "lambent.scratchMounts" -}}
- name: data
  mountPath: /var/lib/lambent
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "lambent.scratchVolumes" -}}
- name: data
  emptyDir:
    sizeLimit: 256Mi
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{/* A probe's host: the pod's address, or 127.0.0.1 on a test bed (its pods have none of their own). */}}
{{- define "lambent.probeHost" -}}
{{- if .Values.testbed.enabled -}}
host: 127.0.0.1
{{- end -}}
{{- end -}}

{{/* The pod template's annotations: the settings' checksum rolls the pods when a setting changes. */}}
{{- define "lambent.podAnnotations" -}}
checksum/settings: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if not .root.Values.secrets.existingSecret }}
checksum/secrets: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- end }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Beat's probe: its schedule file (any of the names dbm gives it) exists, and, with seconds, was written within them. */}}
{{- define "lambent.beatProbe" -}}
import glob, os, sys, time; files = glob.glob('/var/lib/lambent/beat-schedule*'); sys.exit(not files or ({{ .seconds }} and time.time() - max(map(os.path.getmtime, files)) > {{ .seconds }}))
{{- end -}}

