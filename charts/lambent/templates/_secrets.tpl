{{/* The Secret's data, from values; each required, with what it is for. */}}
{{- define "lambent.secretData" -}}
{{- $secrets := .Values.secrets -}}
{{- $key := required "secrets.secretKey is required (a random string of at least 50 characters), or name a Secret in secrets.existingSecret" $secrets.secretKey -}}
{{- if lt (len $key) 50 }}{{ fail "secrets.secretKey must be at least 50 characters long" }}{{ end -}}
secret-key: {{ $key | b64enc | quote }}
master-key: {{ required "secrets.masterKey is required (it encrypts access keys at rest), or name a Secret in secrets.existingSecret" $secrets.masterKey | b64enc | quote }}
database-url: {{ required "secrets.databaseUrl (postgres://...) is required, or name a Secret in secrets.existingSecret" $secrets.databaseUrl | b64enc | quote }}
redis-url: {{ required "secrets.redisUrl (redis://...) is required, or name a Secret in secrets.existingSecret" $secrets.redisUrl | b64enc | quote }}
{{- with $secrets.metricsToken }}
metrics-token: {{ . | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* With existingSecret, no secret may be given in values as well: one of the two would be ignored. */}}
{{- define "lambent.checkSecrets" -}}
{{- $secrets := .Values.secrets -}}
{{- if and $secrets.existingSecret (or $secrets.secretKey $secrets.masterKey $secrets.databaseUrl $secrets.redisUrl $secrets.metricsToken) -}}
{{- fail "secrets.existingSecret is set: leave secrets.secretKey, masterKey, databaseUrl, redisUrl and metricsToken empty (they would be ignored)" -}}
{{- end -}}
{{- end -}}
