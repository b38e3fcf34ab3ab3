"""What Grafana will show, decided by Grafana's own published frontend code.

Each panel's SQL runs on the embedded engine over the seeded market; its result becomes the frames the
ClickHouse plugin returns (``grafana_frames``); ``grafana_frontend/shown.cjs`` puts them through
@grafana/data (field overrides, display names, field matchers, ``getFieldDisplayValues``) under Node.
The npm packages are pinned by ``grafana_frontend/package-lock.json`` and installed once with ``npm ci``
into the Argos cache. Missing node or npm is a test failure, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from argos_dashboards.data import Selection, panel_sql
from argos_dashboards.grafana import (
    CLICKHOUSE_PLUGIN_VERSION,
    DASHBOARD_FILE,
    GRAFANA_VERSION,
    QUERY_TYPES,
)
from argos_dashboards.grafana_frames import plugin_frames
from argos_dashboards.macros import QueryWindow, render
from argos_dashboards.model import Kind, Panel, Scope, Viz, bubble_series, titles_share_word
from argos_dashboards.panels import PANELS

FRONTEND = Path(__file__).parent / "grafana_frontend"
DASHBOARD = Path(__file__).resolve().parents[1] / DASHBOARD_FILE
SYMBOL = "ETHUSDT"  # the symbol of the repeated row's copy under test


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: the Grafana frontend checks need Node.js >= 20 with npm "
                    f"(Debian: apt-get install nodejs npm)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The pinned npm packages, installed with ``npm ci`` once per lockfile into the Argos cache."""
    node, npm = _tool("node"), _tool("npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    assert major >= 20, f"Node.js {major} is too old for @grafana/data {GRAFANA_VERSION}; need >= 20"
    lock = (FRONTEND / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("ARGOS_CACHE_DIR", Path.home() / ".cache" / "argos"))
    home = cache / "grafana-frontend" / hashlib.sha256(lock).hexdigest()[:16]
    marker = home / "node_modules" / ".argos-installed"
    if not marker.exists():
        home.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(FRONTEND / name, home / name)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--cache", str(cache / "npm")],
                              cwd=home, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed in {home}:\n{done.stdout}\n{done.stderr}"
        marker.write_text("ok\n")
    return home / "node_modules"


def _node(node_modules: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NODE_PATH": str(node_modules)}
    return subprocess.run([_tool("node"), str(FRONTEND / script), *args], env=env, capture_output=True,
                          text=True, timeout=300)


def _definitions() -> dict[str, Panel]:
    return {p.title: p for p in PANELS}


def _selection(panel: Panel, market) -> Selection:
    """Overview and pipeline panels see every symbol; each repeated row holds one symbol."""
    return market.selection([SYMBOL] if panel.scope is Scope.SYMBOL else None)


@pytest.fixture(scope="session")
def board() -> dict:
    return json.loads(DASHBOARD.read_text())


def _as_grafana_runs_it(panel: dict, definition: Panel, market) -> str:
    """The panel's own rawSql from the JSON, as ClickHouse receives it (the fixture's database for argos)."""
    selection = _selection(definition, market)
    window = QueryWindow.for_panel(selection.start, selection.end, panel.get("interval", ""), panel["maxDataPoints"])
    sql = re.sub(r"\bargos\.", "{db}.", panel["targets"][0]["rawSql"])
    return render(sql, window, selection.variables, selection.db)


QUERIED_AT: list[float] = []  # when the frames Grafana's code sees were queried


@pytest.fixture(scope="session")
def shown(board, node_modules, client, market, tmp_path_factory) -> dict[str, dict]:
    """Per panel title: what Grafana's frontend makes of the panel's frames (see shown.cjs)."""
    definitions = _definitions()
    frames = {}
    QUERIED_AT.append(time.monotonic())
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        result = client.query(_as_grafana_runs_it(panel, definitions[panel["title"]], market))
        frames[str(panel["id"])] = plugin_frames(result, panel["targets"][0]["format"])
    work = tmp_path_factory.mktemp("grafana-frontend")
    (work / "in.json").write_text(json.dumps({"dashboard": board, "frames": frames}))
    done = _node(node_modules, "shown.cjs", str(work / "in.json"), str(work / "out.json"))
    assert done.returncode == 0, done.stderr
    report = json.loads((work / "out.json").read_text())
    assert report["grafanaData"] == GRAFANA_VERSION
    assert report["unresolvedTemplates"] == [], "display texts Grafana would leave as templates"
    return {p["title"]: p for p in report["panels"].values()}


def _panels(viz: Viz) -> list[Panel]:
    return [p for p in PANELS if p.viz is viz]


def test_every_panel_and_target_carries_its_versions(board) -> None:
    """A panel without pluginVersion is migrated as if saved before the plugin's first version (the xychart
    handler then re-wraps its matchers and draws nothing); a target without the ClickHouse plugin's
    pluginVersion is re-migrated as a v3 query when its editor opens."""
    for panel in (p for p in board["panels"] if p["type"] != "row"):
        assert panel.get("pluginVersion") == GRAFANA_VERSION, f"{panel['title']}: pluginVersion"
        for target in panel["targets"]:
            assert target.get("pluginVersion") == CLICKHOUSE_PLUGIN_VERSION, f"{panel['title']}: target"
            assert target["queryType"] == QUERY_TYPES[target["format"]], f"{panel['title']}: queryType"


@pytest.mark.parametrize("panel", _panels(Viz.STAT), ids=lambda p: p.key)
def test_stat_shows_one_named_value_per_row_and_number(panel: Panel, shown, client, market) -> None:
    rows = list(client.query(panel_sql(panel, _selection(panel, market))).named_results())
    numbers = [c for c in panel.columns if c.kind is Kind.NUMBER]
    names = panel.names(Kind.STRING)
    # Grafana lists a field's values row by row, field after field.
    expected = [(f"{row[names[0]]} {col.title}" if names else col.title, float(row[col.name]))
                for col in numbers for row in rows]
    values = shown[panel.title]["values"]
    assert [v["title"] for v in values] == [t for t, _ in expected], f"{panel.title} shows {values}"
    # freshness reads now64(), which moves between the frames' query and this one (a loaded machine: seconds)
    slack = 5.0 + time.monotonic() - QUERIED_AT[-1] if panel.unit == "s" else 0.0
    assert [v["numeric"] for v in values] == pytest.approx([v for _, v in expected], abs=slack)
    if names:
        assert {str(r[names[0]]) for r in rows} == set(market.selection().variables["symbol"])


@pytest.mark.parametrize("panel", _panels(Viz.TIMESERIES), ids=lambda p: p.key)
def test_time_series_has_one_named_series_per_symbol_or_column(panel: Panel, shown, client, market) -> None:
    fields = [f for frame in shown[panel.title]["fields"] for f in frame if f["type"] == "number"]
    names = [f["displayName"] for f in fields]
    assert len(names) == len(set(names)), f"{panel.title}: series share a name: {names}"
    if panel.time_series_format:  # one series per symbol (or venue), named by it
        label = panel.names(Kind.STRING)[0]
        rows = client.query(panel_sql(panel, _selection(panel, market))).named_results()
        assert sorted(names) == sorted({str(r[label]) for r in rows}), names
        assert len(names) >= 3, names
    else:
        assert names == [c.title for c in panel.columns if c.kind is Kind.NUMBER]


def test_candlestick_finds_open_high_low_close_volume(shown) -> None:
    for panel in _panels(Viz.CANDLESTICK):
        mapped = shown[panel.title]["candlestick"]
        assert {k: (v or {}).get("name") for k, v in mapped.items()} == {
            k: k for k in ("open", "high", "low", "close", "volume")}


def test_whale_radar_has_x_y_and_size(shown) -> None:
    for panel in _panels(Viz.BUBBLES):
        got = shown[panel.title]
        assert got["mapping"] == "manual"
        series, ys = got["series"], bubble_series(panel)
        assert [(s["x"] or {}).get("name") for s in series] == ["time"] * len(ys)
        assert [(s["y"] or {}).get("name") for s in series] == ys
        assert [(s["size"] or {}).get("name") for s in series] == ["size"] * len(ys)
        assert all(s["y"]["points"] > 0 for s in series), "the fixture has whales of every side and venue"
        names = [s["name"] for s in series]
        assert names == [panel.column(y).title for y in ys]
        # The legend drops words all series names share (autoNameSeries, public/app/plugins/panel/xychart/utils.ts).
        assert not titles_share_word(names), f"the legend would strip a shared word from {names}"


def test_volume_profile_and_table_find_their_fields(shown) -> None:
    for panel in _panels(Viz.PROFILE):
        assert shown[panel.title]["xField"] == "price"
    for panel in _panels(Viz.TABLE):
        names = [f["displayName"] for f in shown[panel.title]["fields"][0]]
        assert names == [c.title for c in panel.columns]


def test_dashboard_json_is_valid_for_the_targeted_grafana_schema(node_modules) -> None:
    done = _node(node_modules, "schema_check.cjs", str(DASHBOARD), str(node_modules.parent / "check"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"@grafana/schema {GRAFANA_VERSION}" in done.stdout


def test_pinned_npm_versions_are_the_targeted_grafana() -> None:
    package = json.loads((FRONTEND / "package.json").read_text())
    assert package["dependencies"]["@grafana/data"] == GRAFANA_VERSION
    assert package["dependencies"]["@grafana/schema"] == GRAFANA_VERSION
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in package["dependencies"].values()), "pin exactly"
