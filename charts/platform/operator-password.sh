#!/usr/bin/env bash
# Write a Helm values file (mode 600) that sets the Altinity operator's ClickHouse password: the one in its Secret
# when the operator is installed already (NAMESPACE, release "clickhouse-operator"), else a new random one. The
# chart's default password is public (it is written in the chart), so install.sh and the Tiltfile always pass this
# one, as a file: a --set flag would show it in the process list and in Tilt's log.
#   operator-password.sh FILE
set -euo pipefail
out="${1:?usage: operator-password.sh VALUES_FILE}"
NAMESPACE="${NAMESPACE:-argos}"
KUBECTL="${KUBECTL:-kubectl}"
selector=app.kubernetes.io/instance=clickhouse-operator,app.kubernetes.io/name=altinity-clickhouse-operator
current="$("$KUBECTL" -n "$NAMESPACE" get secret -l "$selector" -o jsonpath='{.items[0].data.password}' 2>/dev/null \
  | base64 -d 2>/dev/null || true)"
if [[ -z "$current" || "$current" == clickhouse_operator_password ]]; then
  current="$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)"
fi
mkdir -p "$(dirname "$out")"
(umask 077 && printf 'secret:\n  password: "%s"\n' "$current" >"$out")
