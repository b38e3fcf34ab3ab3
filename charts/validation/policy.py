"""Policy checks on rendered manifests that schemas cannot express.

    python policy.py RENDERED.yaml DASHBOARDS_DIR

- every image reference is pinned (a tag other than "latest", or a digest);
- every container, in plain workloads and in the pod templates of the operators' custom resources, has
  CPU and memory requests and a memory limit, and runs as non-root;
- the ConfigMaps labelled grafana_dashboard=1 hold exactly the files DASHBOARDS_DIR/*.json, byte for byte;
- the ClickHouse datasource has the fixed uid and type, and no password in clear.
Prints one line per violation and exits 1 if there is any.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

WORKLOAD_POD_SPEC = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
DATASOURCE_UID = "argos-clickhouse"
DATASOURCE_TYPE = "grafana-clickhouse-datasource"


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def images(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from images(value)
    elif isinstance(node, list):
        for item in node:
            yield from images(item)


def image_problem(ref: str) -> str | None:
    if "@sha256:" in ref:
        return None
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        return "has no tag"
    if tag == "latest":
        return "uses :latest"
    return None


def non_root(pod_sc: dict | None, c_sc: dict | None) -> bool:
    pod_sc, c_sc = pod_sc or {}, c_sc or {}
    run_as_user = c_sc.get("runAsUser", pod_sc.get("runAsUser"))
    if run_as_user == 0:
        return False
    return bool(c_sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")))


def check_pod_spec(where: str, spec: dict, problems: list[str]) -> None:
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    if not containers:
        problems.append(f"{where}: pod spec without containers")
    for c in containers:
        name = f"{where} container {c.get('name')}"
        res = c.get("resources") or {}
        missing = [
            p for p in ("requests.cpu", "requests.memory", "limits.memory") if dig(res, *p.split(".")) in (None, "")
        ]
        if missing:
            problems.append(f"{name}: resources missing {', '.join(missing)}")
        if not non_root(spec.get("securityContext"), c.get("securityContext")):
            problems.append(f"{name}: does not run as non-root (runAsNonRoot: true, runAsUser != 0)")


def check_spark(where: str, spec: dict, problems: list[str]) -> None:
    for role in ("driver", "executor"):
        r = spec.get(role) or {}
        missing = [k for k in ("cores", "coreLimit", "memory") if r.get(k) in (None, "")]
        if missing:
            problems.append(f"{where} {role}: resources missing {', '.join(missing)}")
        tpl = dig(r, "template", "spec") or {}
        containers = tpl.get("containers") or [{}]
        for c in containers:
            if not non_root(tpl.get("securityContext"), c.get("securityContext")):
                problems.append(f"{where} {role}: pod template does not run as non-root")


def check_strimzi(where: str, kind: str, spec: dict, problems: list[str]) -> None:
    # Strimzi's images run as a non-root user (1001) by construction; resources are ours to set.
    if kind == "KafkaNodePool":
        blocks = {"nodes": spec.get("resources")}
    else:
        blocks = {"topicOperator": dig(spec, "entityOperator", "topicOperator", "resources")}
    for name, res in blocks.items():
        if not dig(res, "requests", "memory") or not dig(res, "limits", "memory"):
            problems.append(f"{where} {name}: resources missing requests/limits")


def check_dashboards(objs: list[dict], source: Path, problems: list[str]) -> int:
    expected = {p.name: p.read_bytes().decode("utf-8") for p in sorted(source.glob("*.json"))}
    rendered: dict[str, str] = {}
    for o in objs:
        if o.get("kind") == "ConfigMap" and dig(o, "metadata", "labels", "grafana_dashboard") == "1":
            for key, value in (o.get("data") or {}).items():
                if key in rendered:
                    problems.append(f"dashboard {key}: in more than one ConfigMap")
                rendered[key] = value
    for key in sorted(set(expected) - set(rendered)):
        problems.append(f"dashboard {key}: in {source.name}/ but in no ConfigMap")
    for key in sorted(set(rendered) - set(expected)):
        problems.append(f"dashboard {key}: in a ConfigMap but not in {source.name}/ (stale copy?)")
    for key in sorted(set(rendered) & set(expected)):
        if rendered[key] != expected[key]:
            problems.append(f"dashboard {key}: ConfigMap content differs from {source.name}/{key}")
        else:
            try:
                json.loads(rendered[key])
            except ValueError as exc:
                problems.append(f"dashboard {key}: not valid JSON ({exc})")
    return len(rendered)


def check_datasource(objs: list[dict], problems: list[str]) -> int:
    found = 0
    for o in objs:
        if o.get("kind") == "ConfigMap" and dig(o, "metadata", "labels", "grafana_datasource") == "1":
            for key, text in (o.get("data") or {}).items():
                for ds in (yaml.safe_load(text) or {}).get("datasources", []):
                    found += 1
                    where = f"datasource {ds.get('name')} ({key})"
                    if ds.get("uid") != DATASOURCE_UID or ds.get("type") != DATASOURCE_TYPE:
                        problems.append(f"{where}: must be uid {DATASOURCE_UID}, type {DATASOURCE_TYPE}")
                    password = str(dig(ds, "secureJsonData", "password") or "")
                    if password and not password.startswith(("$__env{", "$__file{")):
                        problems.append(f"{where}: password in clear; use $__env{{...}} from a Secret")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    objs = [o for o in yaml.safe_load_all(Path(argv[1]).read_text()) if isinstance(o, dict)]
    problems: list[str] = []
    containers = 0
    for o in objs:
        kind, name = o.get("kind", "?"), dig(o, "metadata", "name")
        where = f"{kind}/{name}"
        for ref in images(o):
            if (why := image_problem(ref)) is not None:
                problems.append(f"{where}: image {ref} {why}")
        if kind in WORKLOAD_POD_SPEC:
            spec = dig(o, *WORKLOAD_POD_SPEC[kind]) or {}
            containers += len((spec.get("initContainers") or []) + (spec.get("containers") or []))
            check_pod_spec(where, spec, problems)
        elif kind in ("ClickHouseInstallation", "ClickHouseKeeperInstallation"):
            for tpl in dig(o, "spec", "templates", "podTemplates") or []:
                spec = tpl.get("spec") or {}
                containers += len(spec.get("containers") or [])
                check_pod_spec(f"{where} podTemplate {tpl.get('name')}", spec, problems)
        elif kind == "SparkApplication":
            containers += 2
            check_spark(where, o.get("spec") or {}, problems)
        elif kind in ("Kafka", "KafkaNodePool"):
            check_strimzi(where, kind, o.get("spec") or {}, problems)
    dashboards = check_dashboards(objs, Path(argv[2]), problems)
    datasources = check_datasource(objs, problems)
    for p in problems:
        print(f"  POLICY {p}")
    print(
        f"  policy: {len(objs)} objects, {containers} containers/pod roles, {dashboards} dashboards, "
        f"{datasources} datasources: {len(problems)} violation(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
