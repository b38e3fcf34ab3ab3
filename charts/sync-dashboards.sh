#!/usr/bin/env bash
# Copy grafana-dashboards/*.json (the only source of truth) into charts/argos/dashboards/, where Helm can
# read them (.Files only sees files inside the chart). The copy is gitignored and rebuilt on every call;
# .ci/validate-charts.sh checks that the rendered ConfigMaps hold exactly the source files' bytes.
#   DASHBOARDS_SRC=dir overrides the source (tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="${DASHBOARDS_SRC:-$root/grafana-dashboards}"
dst="$root/charts/argos/dashboards"
rm -rf "$dst"
mkdir -p "$dst"
shopt -s nullglob
files=("$src"/*.json)
if ((${#files[@]})); then
  cp -p "${files[@]}" "$dst/"
fi
echo "sync-dashboards: ${#files[@]} dashboard(s) from ${src#"$root"/} -> charts/argos/dashboards/"
