"""The chart's profiles rendered with the pinned helm, and the CRDs of the pinned operators.

Both come from ``.ci/validate-charts.sh tools`` (cached under .cache/validate-charts/; instant after the
first run, which `make test` has already done in its `charts` step).
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "validate-charts"
CHART = ROOT / "charts" / "argos"
EXTERNAL = [
    "-f", str(CHART / "values-production.yaml"),
    "--set", "kafka.mode=external",
    "--set", "kafka.external.bootstrap=b-1.kafka.example:9092",
    "--set", "clickhouse.mode=external",
    "--set", "clickhouse.external.url=https://clickhouse.example:8443",
    "--set", "clickhouse.auth.existingSecret=clickhouse-credentials",
]  # fmt: skip
# profile -> (release name, helm args)
PROFILES: dict[str, tuple[str, list[str]]] = {
    "default": ("argos", []),
    "dev": ("argos", ["-f", str(CHART / "values-dev.yaml")]),
    "dev-networkpolicies": ("argos", ["-f", str(CHART / "values-dev.yaml"), "--set", "networkPolicy.enabled=true"]),
    "production": ("argos", ["-f", str(CHART / "values-production.yaml")]),
    "renamed": ("markets-prod", ["-f", str(CHART / "values-production.yaml")]),
    "external": ("argos", EXTERNAL),
}
ALTINITY_KINDS = ("ClickHouseInstallation", "ClickHouseKeeperInstallation")


@cache
def prepare() -> str:
    """Build/fetch helm and the operators' CRDs (fails loudly with the script's reason)."""
    script = ROOT / ".ci" / "validate-charts.sh"
    done = subprocess.run(["bash", str(script), "tools"], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"validate-charts.sh tools failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    subprocess.run(["bash", str(ROOT / "charts" / "sync-dashboards.sh")], check=True, capture_output=True)
    return done.stdout


def helm() -> Path:
    prepare()
    return CACHE / "bin" / "helm"


def render(profile: str, namespace: str, *extra: str) -> str:
    release, args = PROFILES[profile]
    done = subprocess.run(
        [str(helm()), "template", release, str(CHART), "--namespace", namespace, *args, *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"helm template {profile} failed:\n{done.stderr}")
    return done.stdout


def objects(manifest: str) -> list[dict]:
    return [o for o in yaml.safe_load_all(manifest) if isinstance(o, dict) and o.get("kind")]


def crd_files() -> dict[str, list[Path]]:
    """CRD YAML per operator; an operator whose CRDs could not be obtained maps to []."""
    prepare()
    crds = CACHE / "crd-schemas"
    return {
        "strimzi": sorted(crds.glob("strimzi-*/crd/*.yaml")),
        "spark-operator": sorted(crds.glob("spark-operator-*/src/**/charts/spark-operator-chart/crds/*.yaml")),
        "altinity": sorted(crds.glob("altinity-*/crd/*.yaml")),
    }


def declared_unchecked() -> set[str]:
    """Kinds that may go unchecked when their CRDs are missing (ARGOS_UNCHECKED_KINDS, else the committed list)."""
    if "ARGOS_UNCHECKED_KINDS" in os.environ:
        return set(os.environ["ARGOS_UNCHECKED_KINDS"].split())
    text = (ROOT / "charts" / "validation" / "unchecked-kinds.txt").read_text()
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}
