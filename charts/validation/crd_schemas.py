"""Turn CustomResourceDefinition YAML into the JSON schemas kubeconform reads.

    python crd_schemas.py OUT_DIR CRD.yaml [CRD.yaml ...]

Writes OUT_DIR/<group>/<kind>_<version>.json for every served version, so kubeconform finds them with
-schema-location 'OUT_DIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'.
The schema is the CRD's own openAPIV3Schema, translated the way the API server reads it: objects with
declared properties reject unknown fields (strict, like kubeconform's openapi2jsonschema), unless the
CRD says x-kubernetes-preserve-unknown-fields; int-or-string and nullable become JSON Schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

_NESTED = ("items", "additionalProperties", "not")
_LISTS = ("allOf", "anyOf", "oneOf")


def to_json_schema(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: v for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "properties" in out:
        out["properties"] = {k: to_json_schema(v) for k, v in out["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for key in _NESTED:
        if isinstance(out.get(key), dict):
            out[key] = to_json_schema(out[key])
    for key in _LISTS:
        if isinstance(out.get(key), list):
            out[key] = [to_json_schema(s) for s in out[key]]
    return out


def convert(crd: dict, out_dir: Path) -> list[Path]:
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"].lower()
    written = []
    for version in spec["versions"]:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not version.get("served", True) or not schema:
            continue
        schema = to_json_schema(schema)
        # Every object carries these even where the CRD leaves them implicit.
        props = schema.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        path = out_dir / group / f"{kind}_{version['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=1, sort_keys=True))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[1])
    count = 0
    for name in argv[2:]:
        for doc in yaml.safe_load_all(Path(name).read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                for path in convert(doc, out_dir):
                    print(f"  schema {path.relative_to(out_dir)}")
                    count += 1
    if not count:
        print(f"no CRD versions found in {argv[2:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
