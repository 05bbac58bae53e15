{{/* vim: set filetype=mustache: */}}
{{/*
Names. creditrisk.fullname is "<release>-creditrisk", or just "<release>" when the release
name already contains the chart name (helm create convention); 63 characters max.
*/}}
{{- define "creditrisk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "creditrisk.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>": the name of every object of one component. */}}
{{- define "creditrisk.componentName" -}}
{{- printf "%s-%s" (include "creditrisk.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "creditrisk.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "creditrisk.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels. Selectors hold only name + instance (+ component, since this chart runs several
workloads side by side): never version or chart labels, which change on upgrade while a
Deployment's selector is immutable.
*/}}
{{- define "creditrisk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "creditrisk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "creditrisk.labels" -}}
helm.sh/chart: {{ include "creditrisk.chart" . }}
{{ include "creditrisk.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: creditrisk
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* usage: include "creditrisk.componentSelectorLabels" (dict "root" $ "component" "inference") */}}
{{- define "creditrisk.componentSelectorLabels" -}}
{{ include "creditrisk.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "creditrisk.componentLabels" -}}
{{ include "creditrisk.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* metadata.annotations from commonAnnotations (+ extra dict in .extra) */}}
{{- define "creditrisk.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) (.root.Values.commonAnnotations | default dict) }}
{{- with $all }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Image reference: registry/repository:tag or @digest. Component image values fall back to
the global image.* values; the tag falls back to the chart's appVersion.
usage: include "creditrisk.image" (dict "root" $ "image" .Values.inference.image)
*/}}
{{- define "creditrisk.image" -}}
{{- $g := .root.Values.image -}}
{{- $registry := default $g.registry .image.registry -}}
{{- $tag := default (default .root.Chart.AppVersion $g.tag) .image.tag | toString -}}
{{- $digest := default $g.digest .image.digest -}}
{{- $ref := .image.repository -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if $digest }}{{ printf "%s@%s" $ref $digest }}{{ else }}{{ printf "%s:%s" $ref $tag }}{{ end -}}
{{- end }}

{{- define "creditrisk.pullPolicy" -}}
{{- default .root.Values.image.pullPolicy .image.pullPolicy }}
{{- end }}

{{- define "creditrisk.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Pod and container security contexts: the global defaults merged with a component's. */}}
{{- define "creditrisk.podSecurityContext" -}}
{{- toYaml (merge (dict) (.component.podSecurityContext | default dict) .root.Values.podSecurityContext) }}
{{- end }}

{{- define "creditrisk.containerSecurityContext" -}}
{{- toYaml (merge (dict) (.component.containerSecurityContext | default dict) .root.Values.containerSecurityContext) }}
{{- end }}

{{/* Scheduling fields shared by every pod spec (component values, else global). */}}
{{- define "creditrisk.scheduling" -}}
{{- with (default .root.Values.nodeSelector .component.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .root.Values.tolerations .component.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- tpl (toYaml .) $.root | nindent 2 }}
{{- end }}
{{- with .component.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/* The writable scratch volume every container mounts at /tmp (read-only root fs). */}}
{{- define "creditrisk.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- service wiring */}}
{{- define "creditrisk.modelUri" -}}
{{- default (printf "models:/%s@champion" .Values.model.name) .Values.model.uri }}
{{- end }}

{{- define "creditrisk.mlflow.port" -}}5000{{- end }}

{{/* MLFLOW_TRACKING_URI env entry: the bundled server, or the external URI (value or Secret). */}}
{{- define "creditrisk.mlflow.trackingEnv" -}}
- name: MLFLOW_TRACKING_URI
{{- if .Values.mlflow.enabled }}
  value: {{ printf "http://%s:%d" (include "creditrisk.componentName" (dict "root" . "component" "mlflow")) (int .Values.mlflow.service.port) | quote }}
{{- else if .Values.mlflow.external.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mlflow.external.existingSecret }}
      key: {{ .Values.mlflow.external.existingSecretKey }}
{{- else }}
  value: {{ required "mlflow.external.trackingUri (or mlflow.external.existingSecret) is required when mlflow.enabled=false" .Values.mlflow.external.trackingUri | quote }}
{{- end }}
{{- end }}

{{/*
MLflow identity of a workload (bundled server with mlflow.auth.enabled): the username and,
from the auth Secret, the password, in MLflow's standard client variables. Nothing
otherwise (an external MLflow's credentials go in extraEnv).
usage: include "creditrisk.mlflow.identityEnv" (dict "root" $ "identity" "reader"|"writer")
*/}}
{{- define "creditrisk.mlflow.identityEnv" -}}
{{- $a := .root.Values.mlflow.auth }}
{{- if and .root.Values.mlflow.enabled $a.enabled }}
- name: MLFLOW_TRACKING_USERNAME
  value: {{ index $a (printf "%sUsername" .identity) | quote }}
- name: MLFLOW_TRACKING_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "creditrisk.mlflow.auth.secretName" .root }}
      key: {{ .identity }}-password
{{- end }}
{{- end }}

{{- define "creditrisk.mlflow.auth.secretName" -}}
{{- default (include "creditrisk.componentName" (dict "root" . "component" "mlflow-auth")) .Values.mlflow.auth.existingSecret }}
{{- end }}

{{/*
Redis URL env entries: the bundled Redis with the ACL user `batch` (db 0, the rq queue) or
`ratelimit` (db 1, the rate limiters of inference and the batch API), its password from the Redis Secret interpolated by
the kubelet ($(VAR), never rendered), or the external URL (value or Secret).
usage: include "creditrisk.redis.urlEnv" (dict "root" $ "name" "REDIS_URL" "user" "batch")
*/}}
{{- define "creditrisk.redis.urlEnv" -}}
{{- if .root.Values.redis.enabled }}
{{ include "creditrisk.redis.passwordEnv" . }}
- name: {{ .name | default "REDIS_URL" }}
  value: {{ printf "redis://%s:$(REDIS_%s_PASSWORD)@%s:%d/%d" .user (upper .user) (include "creditrisk.componentName" (dict "root" .root "component" "redis")) (int .root.Values.redis.service.port) (ternary 1 0 (eq .user "ratelimit")) | quote }}
{{- else }}
- name: {{ .name | default "REDIS_URL" }}
{{- if .root.Values.redis.external.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.redis.external.existingSecret }}
      key: {{ .root.Values.redis.external.existingSecretKey }}
{{- else }}
  value: {{ required "redis.external.url (or redis.external.existingSecret) is required when redis.enabled=false" .root.Values.redis.external.url | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* REDIS_<USER>_PASSWORD from the Redis Secret (chart-generated or redis.auth.existingSecret). */}}
{{- define "creditrisk.redis.passwordEnv" -}}
- name: REDIS_{{ upper .user }}_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "creditrisk.redis.secretName" .root }}
      key: {{ .user }}-password
{{- end }}

{{- define "creditrisk.redis.secretName" -}}
{{- default (include "creditrisk.componentName" (dict "root" . "component" "redis")) .Values.redis.auth.existingSecret }}
{{- end }}

{{/* The Secret holding the JSON list of accepted API-key SHA-256 digests. */}}
{{- define "creditrisk.apiKeys.secretName" -}}
{{- default (include "creditrisk.componentName" (dict "root" . "component" "api-keys")) .Values.auth.existingSecret }}
{{- end }}

{{- define "creditrisk.apiKeys.secretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}api-key-hashes{{ end }}
{{- end }}

{{/* true when the services get API keys at all */}}
{{- define "creditrisk.apiKeys.enabled" -}}
{{- if or .Values.auth.existingSecret .Values.auth.apiKeyHashes .Values.auth.generateKey }}true{{ end }}
{{- end }}

{{/* env entries shared by inference and batch: environment, logging, tracking, keys */}}
{{- define "creditrisk.keyedServiceEnv" -}}
- name: {{ .prefix }}_ENVIRONMENT
  value: {{ .root.Values.environment | quote }}
- name: {{ .prefix }}_LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
{{- if include "creditrisk.apiKeys.enabled" .root }}
- name: {{ .prefix }}_API_KEY_HASHES
  valueFrom:
    secretKeyRef:
      name: {{ include "creditrisk.apiKeys.secretName" .root }}
      key: {{ include "creditrisk.apiKeys.secretKey" .root }}
{{- end }}
{{ include "creditrisk.mlflow.trackingEnv" .root }}
{{- include "creditrisk.mlflow.identityEnv" (dict "root" .root "identity" "reader") }}
{{- end }}

{{/* Gateway the HTTPRoutes attach to. */}}
{{- define "creditrisk.gateway.name" -}}
{{- default (include "creditrisk.fullname" .) .Values.exposure.gateway.name }}
{{- end }}

{{- define "creditrisk.gateway.parentRefs" -}}
- group: gateway.networking.k8s.io
  kind: Gateway
  name: {{ include "creditrisk.gateway.name" . }}
  {{- if and .Values.exposure.gateway.namespace (not .Values.exposure.gateway.create) }}
  namespace: {{ .Values.exposure.gateway.namespace }}
  {{- end }}
  {{- with .Values.exposure.gateway.sectionName }}
  sectionName: {{ . }}
  {{- end }}
{{- with .Values.exposure.httpRoute.extraParentRefs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Prometheus scrape annotations (used when no ServiceMonitor is rendered). */}}
{{- define "creditrisk.scrapeAnnotations" -}}
{{- if and .root.Values.metrics.enabled .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: "/metrics"
{{- end }}
{{- end }}

{{/* The API-key value a test or NOTES can read: only for a chart-generated key. */}}
{{- define "creditrisk.apiKeys.generatedSecretName" -}}
{{- include "creditrisk.componentName" (dict "root" . "component" "api-key") }}
{{- end }}

{{- define "creditrisk.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "creditrisk.componentName" (dict "root" . "component" "controller")) .Values.controller.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespaces the controller watches, comma-joined: the release namespace first, then
controller.watchNamespaces (deduplicated). Never empty: there is no cluster-wide mode. */}}
{{- define "creditrisk.controller.namespaces" -}}
{{- prepend (.Values.controller.watchNamespaces | default list) (include "creditrisk.namespace" .) | uniq | join "," }}
{{- end }}

{{/* Components allowed to reach Redis: the batch queue, and inference's rate limiter when on. */}}
{{- define "creditrisk.redis.clients" -}}
{{- $c := list "batch-api" "batch-worker" }}
{{- if .Values.inference.rateLimit }}{{ $c = prepend $c "inference" }}{{ end }}
{{- toJson $c }}
{{- end }}

{{/* The decision record's env (inference and batch workers): the DSN from a Secret, never a
value. External database: the DSN is one key of decisions.existingSecret. Bundled database
(postgresql.enabled): the kubelet builds the DSN from the app password in the bundled
Secret ($(VAR) expansion), so the password is in no rendered manifest. Nothing when
decisions.enabled is false (the services then record nothing). */}}
{{- define "creditrisk.decisionsEnv" -}}
{{- $d := .Values.decisions -}}
{{- if $d.enabled }}
{{- $saltSecret := "" }}
{{- if $d.existingSecret }}
{{- if .Values.postgresql.enabled }}
{{- fail "decisions.existingSecret (an external PostgreSQL) and postgresql.enabled (the bundled one): choose one" }}
{{- end }}
{{- $saltSecret = $d.existingSecret }}
- name: DECISIONS_DSN
  valueFrom:
    secretKeyRef:
      name: {{ $d.existingSecret }}
      key: {{ $d.existingSecretKey }}
{{- else if .Values.postgresql.enabled }}
{{- $pg := .Values.postgresql }}
{{- $saltSecret = include "creditrisk.postgresql.secretName" . }}
- name: DECISIONS_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $saltSecret }}
      key: app-password
- name: DECISIONS_DSN
  value: {{ printf "postgresql://%s:$(DECISIONS_DB_PASSWORD)@%s:%d/%s" $pg.database (include "creditrisk.componentName" (dict "root" . "component" "postgresql")) (int $pg.service.port) $pg.database | quote }}
{{- else }}
{{- fail "decisions.enabled needs a database: postgresql.enabled=true (bundled) or decisions.existingSecret (a Secret holding an external PostgreSQL DSN)" }}
{{- end }}
- name: DECISIONS_INPUTS
  value: {{ $d.inputs | quote }}
{{- if eq $d.inputs "hash" }}
- name: DECISIONS_HASH_SALT
  valueFrom:
    secretKeyRef:
      name: {{ $saltSecret }}
      key: {{ $d.hashSaltKey }}
{{- end }}
- name: DECISIONS_RETENTION_DAYS
  value: {{ $d.retentionDays | quote }}
- name: DECISIONS_SPOOL_DIR
  value: /tmp/decision-spool
- name: DECISIONS_SPOOL_MAX_BYTES
  value: {{ $d.spoolMaxBytes | int64 | quote }}
{{- end }}
{{- end }}

{{- define "creditrisk.postgresql.secretName" -}}
{{- default (include "creditrisk.componentName" (dict "root" . "component" "postgresql")) .Values.postgresql.auth.existingSecret }}
{{- end }}

{{/*
A Secret of generated values, made once and kept across upgrades (looked up from the
cluster): the bundled Redis, MLflow and PostgreSQL passwords. Values are random letters and
digits (URL-safe), never in values or a ConfigMap.
usage: include "creditrisk.keptSecret" (dict "root" $ "name" NAME "component" COMPONENT
       "keys" (dict "some-password" 40 ...))   (key → length of a generated value)
*/}}
{{- define "creditrisk.keptSecret" -}}
{{- $ns := include "creditrisk.namespace" .root }}
{{- $existing := (lookup "v1" "Secret" $ns .name) | default dict }}
{{- $data := $existing.data | default dict }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .name }}
  namespace: {{ $ns }}
  labels:
    {{- include "creditrisk.componentLabels" (dict "root" .root "component" .component) | nindent 4 }}
  {{- with (include "creditrisk.annotations" (dict "root" .root)) }}{{ . | trim | nindent 2 }}{{ end }}
type: Opaque
data:
  {{- range $key, $length := .keys }}
  {{ $key }}: {{ (get $data $key) | default (randAlphaNum (int $length) | b64enc) | quote }}
  {{- end }}
{{- end }}
