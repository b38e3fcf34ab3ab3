#!/usr/bin/env bash
# Install the platform Argos runs on (pinned operators + Grafana), then the Argos chart.
#
#   charts/platform/install.sh                 # dev profile into namespace "argos"
#   PROFILE=production charts/platform/install.sh
#   NAMESPACE=trading SKIP_ARGOS=1 charts/platform/install.sh   # operators + Grafana only
#
# Order is what keeps CRDs right: each operator chart installs its CRDs and is waited for before the
# Argos chart creates custom resources; Grafana comes last because it reads the ClickHouse password
# from the Secret the Argos chart creates. Every step is `helm upgrade --install`, so re-running is safe.
# Extra `helm` flags for the Argos chart can be passed as arguments (e.g. --set images.ingest.tag=...).
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

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"

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
"$HELM" upgrade --install clickhouse-operator "$ALTINITY_OPERATOR_CHART" --repo "$ALTINITY_OPERATOR_REPO" \
  --version "$ALTINITY_OPERATOR_VERSION" --namespace "$NAMESPACE" --wait --timeout "$TIMEOUT" \
  -f "$here/clickhouse-operator-values.yaml"

if [[ -z "${SKIP_ARGOS:-}" ]]; then
  log "Argos chart (profile $PROFILE)"
  "$root/charts/sync-dashboards.sh"
  "$HELM" upgrade --install "$RELEASE" "$root/charts/argos" --namespace "$NAMESPACE" \
    -f "$root/charts/argos/values-$PROFILE.yaml" --timeout "$TIMEOUT" "$@"
fi

log "Grafana chart $GRAFANA_CHART_VERSION"
"$HELM" upgrade --install grafana "$GRAFANA_CHART" --repo "$GRAFANA_REPO" \
  --version "$GRAFANA_CHART_VERSION" --namespace "$NAMESPACE" --wait --timeout "$TIMEOUT" \
  -f "$here/grafana-values.yaml" \
  --set "env.GF_PLUGINS_PREINSTALL_SYNC=grafana-clickhouse-datasource@$GRAFANA_CLICKHOUSE_PLUGIN_VERSION" \
  --set "envValueFrom.ARGOS_CLICKHOUSE_PASSWORD.secretKeyRef.name=${CLICKHOUSE_SECRET:-$RELEASE-clickhouse}"

log "done: kubectl -n $NAMESPACE port-forward svc/grafana 3000:80  ->  http://localhost:3000"
