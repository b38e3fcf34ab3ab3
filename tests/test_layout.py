"""The layout is the architecture: components import the core, never each other's dependencies by accident;
no import circles; small modules; each install carries only its own extra."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "argos": ROOT / "argos",
    "argos_ingest": ROOT / "ingest" / "argos_ingest",
    "argos_etl": ROOT / "spark-jobs" / "argos_etl",
    "argos_schema": ROOT / "clickhouse-schema" / "argos_schema",
    "argos_dashboards": ROOT / "grafana-dashboards" / "argos_dashboards",
    "argos_testkit": ROOT / "tests" / "argos_testkit",
    "argos_bench": ROOT / "tests" / "argos_bench",
}
MAX_LINES = 400
HEAVY = ("pyspark", "chdb", "pandas", "pyarrow", "plotly", "grafana_foundation_sdk", "matplotlib")


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """First-party modules a file imports anywhere (module level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out.update(n for n in names if n in known)
    return out


def test_no_import_circles() -> None:
    found = modules()
    graph = {name: imports_of(path, set(found)) - {name} for name, path in found.items()}
    for name in graph:  # a package imports its own submodules through __init__: not a circle
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles, state = [], dict.fromkeys(graph, 0)

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append([*stack[stack.index(nxt):], nxt] if nxt in stack else [node, nxt])
            elif state[nxt] == 0:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node, [node])
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_modules_stay_small() -> None:
    lines = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in modules().values()}
    big = {name: n for name, n in lines.items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them by what they do): {big}"


def test_core_needs_no_component_dependency() -> None:
    """The core's own dependencies carry none of the heavy engines; each extra names its component's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert not any(h in core for h in HEAVY)
    ingest = " ".join(project["optional-dependencies"]["ingest"])
    assert "pyspark" not in ingest and "chdb" not in ingest


def _run_without(heavy: tuple[str, ...], *args: str, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    """``argos *args`` in a fresh interpreter where importing any of ``heavy`` fails, as in a slim install."""
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        f"    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {heavy!r}: raise ModuleNotFoundError(name=name.split('.')[0])\n"
        "sys.meta_path.insert(0, Block())\n"
        "from argos.cli import app\n"
        f"app({list(args)!r}, prog_name='argos')\n"
    )
    return subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})


def test_ingest_runs_without_spark_or_the_embedded_engine() -> None:
    done = _run_without(HEAVY, "ingest", "--help")
    assert done.returncode == 0, done.stderr
    assert "--source" in done.stdout


def test_a_missing_extra_is_named() -> None:
    done = _run_without(HEAVY, "etl")
    assert done.returncode == 2
    assert "'etl' extra" in done.stderr and "pip install 'argos-flow[etl]'" in done.stderr


def test_schema_migrate_without_the_embedded_engine_says_how_to_fix_it(tmp_path: Path) -> None:
    done = _run_without(HEAVY, "schema", "migrate", env={"ARGOS_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "ARGOS_CLICKHOUSE__URL" in done.stderr and "argos-flow[embedded]" in done.stderr


@pytest.mark.slow
def test_ingest_extra_resolves_without_spark_or_chdb(tmp_path: Path) -> None:
    """pip's own resolver: what ``pip install '.[ingest]'`` would install (a dry run, nothing installed)."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
         str(report), f"{ROOT}[ingest]"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"kafka-python", "websockets", "clickhouse-connect"} <= names
    assert not names & {"pyspark", "chdb", "pandas", "pyarrow", "plotly", "grafana-foundation-sdk"}, names
