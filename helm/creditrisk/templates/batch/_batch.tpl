{{/* Env shared by the batch API and worker containers. */}}
{{- define "creditrisk.batch.env" -}}
- name: MODEL_URI
  value: {{ include "creditrisk.modelUri" . | quote }}
- name: BATCH_STORAGE_DIR
  value: /data/batch
- name: BATCH_CHUNK_ROWS
  value: {{ .Values.batch.chunkRows | quote }}
- name: BATCH_RESULT_TTL_SECONDS
  value: {{ .Values.batch.resultTtlSeconds | quote }}
{{ include "creditrisk.redis.urlEnv" (dict "root" . "name" "REDIS_URL" "user" "batch") | trim }}
{{ include "creditrisk.keyedServiceEnv" (dict "root" . "prefix" "BATCH") }}
{{- with .Values.batch.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* BATCH_ADMIN_KEY_HASHES for the job API from the admin-key Secret; nothing without one. */}}
{{- define "creditrisk.batch.adminKeysEnv" -}}
{{- $a := .Values.batch.adminKeys }}
{{- if or $a.existingSecret $a.hashes }}
- name: BATCH_ADMIN_KEY_HASHES
  valueFrom:
    secretKeyRef:
      name: {{ include "creditrisk.batch.adminKeys.secretName" . }}
      key: {{ if $a.existingSecret }}{{ $a.existingSecretKey }}{{ else }}admin-key-hashes{{ end }}
{{- end }}
{{- end }}

{{- define "creditrisk.batch.adminKeys.secretName" -}}
{{- default (include "creditrisk.componentName" (dict "root" . "component" "batch-admin-keys")) .Values.batch.adminKeys.existingSecret }}
{{- end }}

{{- define "creditrisk.batch.claimName" -}}
{{- default (include "creditrisk.componentName" (dict "root" . "component" "batch-storage")) .Values.batch.storage.existingClaim }}
{{- end }}

{{/* storageClassName line of a PVC: "" = omit (cluster default), "-" = explicitly none */}}
{{- define "creditrisk.storageClass" -}}
{{- if eq (toString .) "-" }}
storageClassName: ""
{{- else if . }}
storageClassName: {{ . | quote }}
{{- end }}
{{- end }}
