#!/usr/bin/env bash
# Install the platform Argos runs on (pinned operators + Grafana), then the Argos chart.
#
#   charts/platform/install.sh                 # dev profile into namespace "argos", release "argos"
#   PROFILE=production charts/platform/install.sh
#   RELEASE=trading NAMESPACE=markets charts/platform/install.sh   # any release name / namespace
#   NAMESPACE=trading SKIP_ARGOS=1 charts/platform/install.sh     # operators + Grafana only
#   ARGOS_CHART=oci://ghcr.io/argos-flow/charts/argos ARGOS_CHART_VERSION=0.1.0 charts/platform/install.sh
#
# Order is what keeps CRDs right: each operator chart installs its CRDs and is waited for before the
# Argos chart creates custom resources; Grafana comes last because it reads the ClickHouse password
# from the Secret the Argos chart creates. Every step is `helm upgrade --install ... --wait`, so re-running
# is safe. Extra `helm` flags for the Argos chart can be passed as arguments (e.g. --set images.ingest.tag=...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

NAMESPACE="${NAMESPACE:-argos}"
PROFILE="${PROFILE:-dev}"
RELEASE="${RELEASE:-argos}"
TIMEOUT="${TIMEOUT:-15m}"
HELM="${HELM:-helm}"
KUBECTL="${KUBECTL:-kubectl}"
ARGOS_CHART="${ARGOS_CHART:-$root/charts/argos}"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }
# The name of the one object of this kind carrying these labels (empty when there is none).
by_labels() { "$KUBECTL" -n "$NAMESPACE" get "$1" -l "$2" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true; }

"$KUBECTL" get namespace "$NAMESPACE" >/dev/null 2>&1 || "$KUBECTL" create namespace "$NAMESPACE"

# All operators live in the Argos namespace and watch it (their default), which keeps RBAC namespaced.
log "Strimzi $STRIMZI_VERSION"
"$HELM" upgrade --install strimzi "$STRIMZI_CHART" --version "$STRIMZI_VERSION" \
  --namespace "$NAMESPACE" --wait --timeout "$TIMEOUT" \
  -f "$here/strimzi-values.yaml"

log "spark-operator $SPARK_OPERATOR_VERSION"
"$HELM" upgrade --install spark-operator "$SPARK_OPERATOR_CHART" --repo "$SPARK_OPERATOR_REPO" \
  --version "$SPARK_OPERATOR_VERSION" --namespace "$NAMESPACE" --wait --timeout "$TIMEOUT" \
  -f "$here/spark-operator-values.yaml" --set "spark.jobNamespaces={$NAMESPACE}"

log "Altinity operator for ClickHouse $ALTINITY_OPERATOR_VERSION"
# The operator's own ClickHouse password: generated once, then read back from its Secret on every re-run.
operator_secret="$(mktemp)"
trap 'rm -f "$operator_secret"' EXIT
NAMESPACE="$NAMESPACE" KUBECTL="$KUBECTL" "$here/operator-password.sh" "$operator_secret"
"$HELM" upgrade --install clickhouse-operator "$ALTINITY_OPERATOR_CHART" --repo "$ALTINITY_OPERATOR_REPO" \
  --version "$ALTINITY_OPERATOR_VERSION" --namespace "$NAMESPACE" --wait --timeout "$TIMEOUT" \
  -f "$here/clickhouse-operator-values.yaml" -f "$operator_secret"

if [[ -z "${SKIP_ARGOS:-}" ]]; then
  log "Argos chart $ARGOS_CHART (release $RELEASE, profile $PROFILE)"
  chart_args=()
  if [[ -d "$ARGOS_CHART" ]]; then
    "$root/charts/sync-dashboards.sh"
  else
    chart_args=(--version "${ARGOS_CHART_VERSION:?ARGOS_CHART_VERSION is required with an OCI chart}")
  fi
  # --wait: the workloads are Ready and the schema hook Job has completed when this returns.
  # ${a[@]+"${a[@]}"}: an empty array is an unbound variable under set -u before bash 4.4 (macOS's bash 3.2).
  "$HELM" upgrade --install "$RELEASE" "$ARGOS_CHART" ${chart_args[@]+"${chart_args[@]}"} --namespace "$NAMESPACE" \
    -f "$root/charts/argos/values-$PROFILE.yaml" --wait --timeout "$TIMEOUT" "$@"
fi

log "Grafana chart $GRAFANA_CHART_VERSION"
# The ClickHouse Secret of this release, whatever the release is called (or CLICKHOUSE_SECRET).
clickhouse_secret="${CLICKHOUSE_SECRET:-$(by_labels secret "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=clickhouse")}"
[[ -n "$clickhouse_secret" ]] || { echo "no ClickHouse Secret of release $RELEASE in $NAMESPACE: set CLICKHOUSE_SECRET" >&2; exit 1; }
"$KUBECTL" -n "$NAMESPACE" apply --server-side -f "$here/grafana-sidecar-role.yaml"
"$HELM" upgrade --install grafana "$GRAFANA_CHART" --repo "$GRAFANA_REPO" \
  --version "$GRAFANA_CHART_VERSION" --namespace "$NAMESPACE" --wait --timeout "$TIMEOUT" \
  -f "$here/grafana-values.yaml" \
  --set "env.GF_PLUGINS_PREINSTALL_SYNC=grafana-clickhouse-datasource@$GRAFANA_CLICKHOUSE_PLUGIN_VERSION" \
  --set "envValueFrom.ARGOS_CLICKHOUSE_PASSWORD.secretKeyRef.name=$clickhouse_secret" \
  --set "envValueFrom.ARGOS_CLICKHOUSE_PASSWORD.secretKeyRef.key=${CLICKHOUSE_SECRET_KEY:-password}"

log "done: kubectl -n $NAMESPACE port-forward svc/grafana 3000:80  ->  http://localhost:3000"
