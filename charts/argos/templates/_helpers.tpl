{{/*
Names, labels and the few derived settings every template shares. Templates never spell a name or a
label themselves: they call these, so a fullnameOverride or a second release stays consistent.
*/}}

{{- define "argos.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "argos.fullname" -}}
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

{{/* Name of one component's objects: argos.component (dict "root" $ "component" "ingest") */}}
{{- define "argos.component" -}}
{{- printf "%s-%s" (include "argos.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "argos.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "argos.selectorLabels" -}}
app.kubernetes.io/name: {{ include "argos.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Full label set: argos.labels (dict "root" $ "component" "ingest") */}}
{{- define "argos.labels" -}}
helm.sh/chart: {{ include "argos.chart" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "argos.stableLabels" . }}
{{- end }}

{{/*
Labels of a custom resource whose operator copies them onto the pods it makes: no chart or version label, which
change with every chart release and would roll every pod (Strimzi copies a KafkaNodePool's labels but
app.kubernetes.io/* other than part-of onto its brokers: Labels.java, 1.2.0, whose pod revision hash covers them;
the Altinity operator copies all of a resource's labels onto its Services, StatefulSets and pods:
appendCRProvidedLabels in pkg/model/common/tags/labeler/scope.go, release-0.25.6). The ClickHouse resources
carry no component either, so the operator's Services do not answer the selector that finds the chart's one
ClickHouse Service (install.sh, the smoke test, docs/kubernetes.md); their pods get theirs from the podTemplate.
argos.stableLabels (dict "root" $) or (dict "root" $ "component" "kafka")
*/}}
{{- define "argos.stableLabels" -}}
app.kubernetes.io/name: {{ include "argos.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: argos
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* "repository:tag" of one of .Values.images (tag default: the chart's appVersion); refuses a floating tag. */}}
{{- define "argos.image" -}}
{{- $img := index .root.Values.images .image }}
{{- $tag := toString (default .root.Chart.AppVersion $img.tag) }}
{{- if or (not $tag) (eq $tag "latest") }}
{{- fail (printf "images.%s.tag must be a pinned version, not %q" .image $tag) }}
{{- end }}
{{- printf "%s:%s" $img.repository $tag }}
{{- end }}

{{/* Object names of the operator-managed parts (also used to derive service addresses). */}}
{{- define "argos.kafkaName" -}}{{ include "argos.fullname" . }}{{- end }}
{{- define "argos.chiName" -}}{{ include "argos.fullname" . | replace "-" "" | trunc 15 }}{{- end }}
{{- define "argos.chkName" -}}{{ include "argos.chiName" . }}-keeper{{- end }}
{{/* Our own Service in front of the ClickHouse pods: one name per release, whatever the CHI is called. */}}
{{- define "argos.clickhouseService" -}}{{ include "argos.component" (dict "root" . "component" "clickhouse") }}{{- end }}

{{/* Kafka bootstrap address the workloads use. */}}
{{- define "argos.kafkaBootstrap" -}}
{{- if not (has .Values.kafka.external.securityProtocol (list "PLAINTEXT" "SSL")) }}
{{- fail (printf "kafka.external.securityProtocol %q: only PLAINTEXT or SSL (Argos has no SASL mechanism/credential settings yet)" .Values.kafka.external.securityProtocol) }}
{{- end }}
{{- if eq .Values.kafka.mode "external" }}
{{- required "kafka.external.bootstrap is required when kafka.mode=external" .Values.kafka.external.bootstrap }}
{{- else }}
{{- printf "%s-kafka-bootstrap:9092" (include "argos.kafkaName" .) }}
{{- end }}
{{- end }}

{{/* ClickHouse HTTP URL the workloads use (the operator's CHI service, or an external one). */}}
{{- define "argos.clickhouseUrl" -}}
{{- if eq .Values.clickhouse.mode "external" }}
{{- required "clickhouse.external.url is required when clickhouse.mode=external" .Values.clickhouse.external.url }}
{{- else }}
{{- printf "http://%s:8123" (include "argos.clickhouseService" .) }}
{{- end }}
{{- end }}

{{/* Host and port of ClickHouse for Grafana's datasource (derived from the URL above). */}}
{{- define "argos.clickhouseHost" -}}
{{- $u := urlParse (include "argos.clickhouseUrl" .) }}
{{- (split ":" $u.host)._0 }}
{{- end }}
{{- define "argos.clickhousePort" -}}
{{- $u := urlParse (include "argos.clickhouseUrl" .) }}
{{- $parts := split ":" $u.host }}
{{- if $parts._1 }}{{ $parts._1 }}{{ else if eq $u.scheme "https" }}8443{{ else }}8123{{ end }}
{{- end }}

{{/* Cluster name for replicated schema: set only when ClickHouse runs with a Keeper. */}}
{{- define "argos.clickhouseCluster" -}}
{{- if eq .Values.clickhouse.mode "external" }}
{{- .Values.clickhouse.external.cluster }}
{{- else if .Values.clickhouse.keeper.enabled }}
{{- .Values.clickhouse.clusterName }}
{{- end }}
{{- end }}

{{/* Hosts the cluster must list before the schema is created on it (ARGOS_CLICKHOUSE__CLUSTER_HOSTS; 0: do
not wait): on a first install the operator adds replicas to the cluster one by one (argos_schema.migrate). */}}
{{- define "argos.clickhouseClusterHosts" -}}
{{- if and (ne .Values.clickhouse.mode "external") .Values.clickhouse.keeper.enabled }}
{{- mul .Values.clickhouse.server.shards .Values.clickhouse.server.replicas }}
{{- else }}0{{- end }}
{{- end }}

{{- define "argos.clickhouseSecretName" -}}
{{- default (include "argos.component" (dict "root" . "component" "clickhouse")) .Values.clickhouse.auth.existingSecret }}
{{- end }}

{{/* Environment shared by every Argos process: the ARGOS_* settings (see argos/settings.py). */}}
{{- define "argos.settingsEnv" -}}
- name: ARGOS_KAFKA__BOOTSTRAP
  value: {{ include "argos.kafkaBootstrap" . | quote }}
- name: ARGOS_KAFKA__TOPIC
  value: {{ .Values.kafka.topics.trades.name | quote }}
- name: ARGOS_KAFKA__PARTITIONS
  value: {{ .Values.kafka.topics.trades.partitions | quote }}
- name: ARGOS_KAFKA__REPLICATION_FACTOR
  value: {{ .Values.kafka.topics.trades.replicas | quote }}
- name: ARGOS_KAFKA__CREATE_TOPIC  # Strimzi's Topic Operator makes the chart's KafkaTopic: the ingest waits for it
  value: {{ ne .Values.kafka.mode "strimzi" | quote }}
- name: ARGOS_KAFKA__SECURITY_PROTOCOL
  value: {{ .Values.kafka.external.securityProtocol | quote }}
- name: ARGOS_CLICKHOUSE__URL
  value: {{ include "argos.clickhouseUrl" . | quote }}
- name: ARGOS_CLICKHOUSE__DATABASE
  value: {{ .Values.clickhouse.database | quote }}
- name: ARGOS_CLICKHOUSE__USER
  value: {{ .Values.clickhouse.auth.user | quote }}
- name: ARGOS_CLICKHOUSE__CLUSTER
  value: {{ include "argos.clickhouseCluster" . | quote }}
- name: ARGOS_CLICKHOUSE__CLUSTER_HOSTS
  value: {{ include "argos.clickhouseClusterHosts" . | quote }}
- name: ARGOS_CLICKHOUSE__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "argos.clickhouseSecretName" . }}
      key: {{ .Values.clickhouse.auth.passwordKey }}
- name: ARGOS_WHALE_THRESHOLD_USD
  value: {{ .Values.settings.whaleThresholdUsd | quote }}
{{- end }}

{{/* Pod- and container-level security settings shared by our own pods. */}}
{{- define "argos.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}
{{- define "argos.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* Spark pods run as the image's spark user (185); Spark writes to its work dir, so no read-only root. */}}
{{- define "argos.sparkPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 185
runAsGroup: 185
fsGroup: 185
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{/* Selector of the pods that may reach ClickHouse / the Kafka listener: this release's pods of these components. */}}
{{- define "argos.peerSelector" -}}
matchLabels:
  app.kubernetes.io/name: {{ include "argos.name" .root }}
  app.kubernetes.io/instance: {{ .root.Release.Name }}
matchExpressions:
  - key: app.kubernetes.io/component
    operator: In
    values: {{ toJson .components }}
{{- end }}

{{- define "argos.sparkContainerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end }}

{{/* Pod anti-affinity on one hostname per pod of a component: argos.antiAffinity (dict "root" $ "component" "clickhouse" "mode" "preferred") */}}
{{- define "argos.antiAffinity" -}}
{{- if not (has .mode (list "preferred" "required")) }}
{{- fail (printf "antiAffinity for %s must be preferred or required, not %q" .component .mode) }}
{{- end }}
podAntiAffinity:
  {{- if eq .mode "required" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "argos.selectorLabels" . | nindent 10 }}
  {{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "argos.selectorLabels" . | nindent 12 }}
  {{- end }}
{{- end }}
