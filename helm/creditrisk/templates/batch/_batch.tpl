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
