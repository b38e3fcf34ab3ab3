"""Standalone Kubernetes JSON schemas for kubeconform, from the kubernetes-validate wheel.

    python k8s_schemas.py OUT_DIR "1.32.0 1.37.0" RENDERED.yaml [...]

The wheel ships per-kind schemas for every Kubernetes minor version, with their shared definitions in
one _definitions.json referenced as /api/_definitions.json#/$defs/...; kubeconform cannot follow that
reference, so for each kind found in the rendered manifests this embeds the definitions and rewrites the
references locally, giving OUT_DIR/v<version>-standalone-strict/<kind><suffix>.json (kubeconform's layout).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import kubernetes_validate
import yaml

SOURCE = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
REF_PREFIX = "/api/_definitions.json#"


def kind_file(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def localize(node):
    if isinstance(node, dict):
        return {
            k: (v.replace(REF_PREFIX, "#", 1) if k == "$ref" and isinstance(v, str) else localize(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [localize(v) for v in node]
    return node


def main(argv: list[str]) -> int:
    out_dir, versions, rendered = Path(argv[1]), argv[2].split(), argv[3:]
    wanted = set()
    for name in rendered:
        for doc in yaml.safe_load_all(Path(name).read_text()):
            if isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"):
                wanted.add(kind_file(doc["apiVersion"], doc["kind"]))
    written = 0
    for version in versions:
        src = SOURCE / f"v{version}-local-strict"
        if not src.is_dir():
            print(f"kubernetes-validate has no schemas for Kubernetes {version}", file=sys.stderr)
            return 1
        definitions = None
        dst = out_dir / f"v{version}-standalone-strict"
        dst.mkdir(parents=True, exist_ok=True)
        for name in sorted(wanted):
            if (dst / name).exists() or not (src / name).exists():
                continue  # done before, or a custom resource (its schema comes from the CRDs)
            if definitions is None:
                definitions = localize(json.loads((src / "_definitions.json").read_text()))
            schema = localize(json.loads((src / name).read_text()))
            schema["$defs"] = definitions["$defs"]
            if "$schema" in definitions:
                schema["$schema"] = definitions["$schema"]
            (dst / name).write_text(json.dumps(schema))
            written += 1
    print(f"  {written} Kubernetes schema(s) prepared for {', '.join(versions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
