{{/* Names, labels and the pieces every workload shares. */}}

{{- define "taskhub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "taskhub.fullname" -}}
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

{{/* The name of one component's objects: (dict "root" $ "component" "auth-svc"). */}}
{{- define "taskhub.componentName" -}}
{{- printf "%s-%s" (include "taskhub.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "taskhub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskhub.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "taskhub.labels" -}}
{{ include "taskhub.selectorLabels" . }}
app.kubernetes.io/part-of: taskhub
app.kubernetes.io/version: {{ include "taskhub.tag" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 }}
{{- end -}}

{{/* Every pod of the release, whatever its component (NetworkPolicy peers). */}}
{{- define "taskhub.releaseSelector" -}}
app.kubernetes.io/name: {{ include "taskhub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Our images are tagged with the release's version: the chart's appVersion. */}}
{{- define "taskhub.tag" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: `latest` is not a version; leave it empty for the chart's appVersion" -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{/* (dict "root" $ "image" "auth-svc") */}}
{{- define "taskhub.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .image (include "taskhub.tag" .root) -}}
{{- end -}}

{{- define "taskhub.serviceURL" -}}
{{- printf "http://%s:8000" (include "taskhub.componentName" .) -}}
{{- end -}}

{{/* Pod-level settings shared by every pod: (dict "root" $ "runAsUser" 101) optionally. */}}
{{- define "taskhub.podCommon" -}}
automountServiceAccountToken: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- $ctx := deepCopy .root.Values.podSecurityContext }}
  {{- if .runAsUser }}
  {{- $_ := set $ctx "runAsUser" .runAsUser }}
  {{- $_ := set $ctx "runAsGroup" .runAsUser }}
  {{- $_ := set $ctx "fsGroup" .runAsUser }}
  {{- end }}
  {{- toYaml $ctx | nindent 2 }}
{{- end -}}

{{- define "taskhub.containerSecurityContext" -}}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* Spread over zones and nodes: (dict "root" $ "component" "auth-svc"). */}}
{{- define "taskhub.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: {{ .root.Values.topologySpread.zone }}
    labelSelector:
      matchLabels:
        {{- include "taskhub.selectorLabels" . | nindent 8 }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ .root.Values.topologySpread.node }}
    labelSelector:
      matchLabels:
        {{- include "taskhub.selectorLabels" . | nindent 8 }}
{{- end -}}

{{/* prometheus.io/* annotations when no Prometheus Operator scrapes the pods:
     (dict "root" $ "port" 8000 "path" "/auth/metrics") */}}
{{- define "taskhub.scrapeAnnotations" -}}
{{- if and .port (not .root.Values.monitoring.prometheusOperator) }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: {{ .path | quote }}
{{- end }}
{{- end -}}

{{/* A database's host: the value, or the dev StatefulSet's Service. (dict "root" $ "db" "auth") */}}
{{- define "taskhub.databaseHost" -}}
{{- $db := index .root.Values.postgresql .db -}}
{{- if .root.Values.dev.postgresql.enabled -}}
{{- include "taskhub.componentName" (dict "root" .root "component" (printf "%s-db" .db)) -}}
{{- else if $db.host -}}
{{- $db.host -}}
{{- else -}}
{{- fail (printf "postgresql.%s.host is required (or dev.postgresql.enabled)" .db) -}}
{{- end -}}
{{- end -}}

{{- define "taskhub.redisHost" -}}
{{- if .Values.dev.redis.enabled -}}
{{- include "taskhub.componentName" (dict "root" . "component" "redis") -}}
{{- else if .Values.redis.host -}}
{{- .Values.redis.host -}}
{{- else -}}
{{- fail "redis.host is required (or dev.redis.enabled)" -}}
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "db" 2): a Redis URL whose password is the TASKHUB_REDIS_PASSWORD variable. */}}
{{- define "taskhub.redisURL" -}}
{{- $r := .root.Values.redis -}}
{{- printf "%s://:$(TASKHUB_REDIS_PASSWORD)@%s:%v/%v" $r.scheme (include "taskhub.redisHost" .root) $r.port .db -}}
{{- end -}}

{{/* The environment of one service family: (dict "root" $ "service" "auth|tasks|notify"
     "otelName" "auth-svc" "api" true). Values with a secret come from secretKeyRef only;
     $(VAR) references need their variable earlier in the list. */}}
{{- define "taskhub.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $prefix := get (dict "auth" "AUTH" "tasks" "TASKS" "notify" "NOTIFY") .service -}}
{{- $db := index $v.postgresql .service -}}
- name: TASKHUB_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $db.existingSecret }}
      key: {{ $db.passwordKey }}
- name: TASKHUB_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.existingSecret }}
      key: {{ $v.redis.passwordKey }}
- name: {{ $prefix }}_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.internalToken.existingSecret }}
      key: {{ $v.secrets.internalToken.key }}
- name: {{ $prefix }}_ENVIRONMENT
  value: {{ $v.environment | quote }}
- name: {{ $prefix }}_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: {{ $prefix }}_CORS_ORIGINS
  value: {{ toJson $v.corsOrigins | quote }}
- name: {{ $prefix }}_DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(TASKHUB_DB_PASSWORD)@%s:%v/%s%s" $db.user (include "taskhub.databaseHost" (dict "root" $root "db" .service)) $db.port $db.database $v.postgresql.query | quote }}
- name: {{ $prefix }}_REDIS_URL
  value: {{ include "taskhub.redisURL" (dict "root" $root "db" (index $v.redis.databases .service)) | quote }}
{{- $auth := include "taskhub.serviceURL" (dict "root" $root "component" "auth-svc") }}
{{- if eq .service "auth" }}
- name: AUTH_KEYS_DIR
  value: /var/lib/taskhub/keys
{{- with $v.secrets.admin.existingSecret }}
- name: AUTH_ADMIN_EMAIL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.secrets.admin.emailKey }}
- name: AUTH_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.secrets.admin.passwordKey }}
{{- end }}
{{- else if eq .service "tasks" }}
- name: TASKS_AUTH_URL
  value: {{ $auth | quote }}
- name: TASKS_JWKS_URL
  value: {{ printf "%s/auth/.well-known/jwks.json" $auth | quote }}
- name: TASKS_NOTIFY_URL
  value: {{ include "taskhub.serviceURL" (dict "root" $root "component" "notify-svc") | quote }}
{{- else }}
- name: NOTIFY_WEBHOOK_SIGNING_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.webhookSigningSecret.existingSecret }}
      key: {{ $v.secrets.webhookSigningSecret.key }}
- name: NOTIFY_AUTH_URL
  value: {{ $auth | quote }}
- name: NOTIFY_JWKS_URL
  value: {{ printf "%s/auth/.well-known/jwks.json" $auth | quote }}
- name: NOTIFY_CELERY_BROKER_URL
  value: {{ include "taskhub.redisURL" (dict "root" $root "db" $v.redis.databases.notify) | quote }}
- name: NOTIFY_ARQ_REDIS_URL
  value: {{ include "taskhub.redisURL" (dict "root" $root "db" $v.redis.databases.arq) | quote }}
- name: NOTIFY_METRICS_ADDRESS
  value: "0.0.0.0"
- name: TASKHUB_CELERY_METRICS_PORT
  value: "9101"
- name: TASKHUB_ARQ_METRICS_PORT
  value: "9102"
{{- end }}
{{- if .api }}
- name: WEB_CONCURRENCY
  value: {{ (index $v .service).webConcurrency | quote }}
{{- end }}
{{- if .metrics }}
# The processes share their metric samples here (an emptyDir, empty at every start).
- name: PROMETHEUS_MULTIPROC_DIR
  value: /tmp/taskhub-metrics
{{- end }}
{{- if .api }}
# Only the gateway and the other services reach the APIs (NetworkPolicy): trust its
# X-Forwarded-* headers.
- name: FORWARDED_ALLOW_IPS
  value: "*"
{{- end }}
{{- with $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.otel.protocol | quote }}
- name: OTEL_SEMCONV_STABILITY_OPT_IN
  value: http
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "deployment.environment.name=%s" $v.otel.environmentName | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .otelName | quote }}
{{- $extra := merge (dict) (.extraEnv | default dict) ((index $v .service).extraEnv | default dict) }}
{{- range $name := keys $extra | sortAlpha }}
- name: {{ $name }}
  value: {{ index $extra $name | toString | quote }}
{{- end }}
{{- end -}}

{{/* Writable folders of a read-only root filesystem. */}}
{{- define "taskhub.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
{{- end -}}
