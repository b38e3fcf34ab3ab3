"""The committed Grafana dashboard is generated from the panel definitions, fresh, and valid for the
foundation-sdk types of the pinned Grafana schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from argos_dashboards.grafana import DASHBOARD_FILE, DROPPED_FOR_13, grafana_sql, main, render_json
from argos_dashboards.panels import DATASOURCE_TYPE, DATASOURCE_UID, PANELS, VARIABLES

COMMITTED = Path(__file__).resolve().parents[1] / DASHBOARD_FILE
PANEL_TYPES = {"stat", "candlestick", "timeseries", "xychart", "table", "barchart", "row"}


def committed() -> dict:
    return json.loads(COMMITTED.read_text())


def test_committed_json_is_fresh() -> None:
    assert COMMITTED.read_text() == render_json(), "stale: run `python -m argos_dashboards.grafana`"
    assert main(["--check"]) == 0


def test_json_round_trips_through_the_sdk_types() -> None:
    """Decoding into the typed model and encoding again loses nothing: no unknown or mistyped keys. The 11.6
    model re-adds only the defaults that Grafana 13.2's schema dropped (DROPPED_FOR_13)."""
    board = committed()
    again = json.loads(json.dumps(Dashboard.from_json(board), cls=JSONEncoder))
    for panel in again["panels"]:
        for key in DROPPED_FOR_13["table"] if panel["type"] == "table" else ():
            panel["options"].pop(key, None)
    for variable in again["templating"]["list"]:
        for key in DROPPED_FOR_13["variable"]:
            variable.pop(key, None)
    assert again == board
    assert board["schemaVersion"] >= 41  # Grafana 11.6+; Grafana 12 and 13 migrate it on load


def test_every_panel_is_there_with_its_sql_and_the_fixed_datasource() -> None:
    panels = [p for p in committed()["panels"] if p["type"] != "row"]
    assert {p["type"] for p in committed()["panels"]} <= PANEL_TYPES
    assert [p["title"] for p in panels] == [
        p.title for p in sorted(PANELS, key=lambda d: [d.scope.value != "overview", d.scope.value != "pipeline"])
    ]
    by_title = {p.title: p for p in PANELS}
    for panel in panels:
        target = panel["targets"][0]
        assert panel["datasource"] == {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
        assert target["datasource"]["uid"] == DATASOURCE_UID
        assert target["editorType"] == "sql"
        assert target["rawSql"] == grafana_sql(by_title[panel["title"]])
        assert re.search(r"\$__(timeFilter|timeFilter_ms|toTime)\b", target["rawSql"]), "bound to the range"


def test_symbol_variable_repeats_the_per_symbol_row() -> None:
    board = committed()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {v.name for v in VARIABLES}
    assert variables["symbol"]["multi"] and variables["symbol"]["includeAll"]
    assert variables["symbol"]["datasource"]["uid"] == DATASOURCE_UID
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == [None, None, "symbol"]
    assert board["refresh"] and board["time"]["from"].startswith("now-")
