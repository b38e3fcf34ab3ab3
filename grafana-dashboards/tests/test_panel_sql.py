"""Every panel's SQL, macros expanded as the plugin does, runs on ClickHouse (chDB) and returns what its
visual type needs, with the ClickHouse types Grafana will see."""

from __future__ import annotations

import re

import pytest

from argos_dashboards.data import Selection, panel_sql, variable_values
from argos_dashboards.model import Kind, Panel, Scope, requirement_errors
from argos_dashboards.panels import PANELS, VARIABLES

_KINDS = (
    (re.compile(r"^(Nullable\()?(DateTime|DateTime64|Date|Date32)\b"), Kind.TIME),
    (re.compile(r"^(Nullable\()?(U?Int\d+|Float\d+|Decimal)"), Kind.NUMBER),
    (re.compile(r"^(Nullable\()?(LowCardinality\()?(String|FixedString)"), Kind.STRING),
)


def kind_of(clickhouse_type: str) -> Kind | None:
    return next((kind for pattern, kind in _KINDS if pattern.match(clickhouse_type)), None)


def _selection(panel: Panel, market) -> Selection:
    return market.selection(["ETHUSDT"] if panel.scope is Scope.SYMBOL else None)


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.key)
def test_declared_columns_fit_the_visual_type(panel: Panel) -> None:
    assert requirement_errors(panel) == []


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.key)
def test_panel_sql_runs_and_returns_declared_columns(panel: Panel, client, market) -> None:
    sql = panel_sql(panel, _selection(panel, market))
    assert "$" not in sql
    result = client.query(sql)
    assert list(result.column_names) == [c.name for c in panel.columns]
    got = {name: t.name for name, t in zip(result.column_names, result.column_types, strict=True)}
    for column in panel.columns:
        assert kind_of(got[column.name]) is column.kind, f"{panel.key}.{column.name}: {got[column.name]}"
    assert result.result_rows, f"{panel.key} returned no rows on the fixture"


@pytest.mark.parametrize("panel", [p for p in PANELS if "$__timeFilter" in p.sql], ids=lambda p: p.key)
def test_time_filter_excludes_data_outside_the_range(panel: Panel, client, market) -> None:
    """A range before the fixture's first trade yields nothing (stats may answer with zero counts)."""
    from datetime import timedelta

    early = Selection(market.selection().db, market.start - timedelta(days=2), market.start - timedelta(days=1),
                      market.selection(["ETHUSDT"] if panel.scope is Scope.SYMBOL else None).variables)
    rows = client.query(panel_sql(panel, early)).result_rows
    assert rows == [] or all(v in (0, None) for row in rows for v in row)


def test_variables_list_the_fixture(query, market) -> None:
    by_name = {v.name: v for v in VARIABLES}
    db = market.selection().db
    binance = {"venue": ["binance"], "market": ["spot"]}
    assert variable_values(query, by_name["symbol"], db, market.start, market.end, binance) == [
        "BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert variable_values(query, by_name["symbol"], db, market.start, market.end,
                           {"venue": ["okx"], "market": ["spot"]}) == ["BTC-USDT"]
    assert variable_values(query, by_name["symbol"], db, market.start, market.end,
                           {"venue": ["binance"], "market": ["usdm"]}) == []  # the symbols of the market chosen
    assert variable_values(query, by_name["market"], db, market.start, market.end) == ["spot"]
    venues = variable_values(query, by_name["venues"], db, market.start, market.end)
    assert venues == ["binance", "bybit", "coinbase", "okx"]
    assert variable_values(query, by_name["kind"], db, market.start, market.end, {"venues": venues}) == ["spot"]
    assets = variable_values(query, by_name["asset"], db, market.start, market.end,
                             {"venues": venues, "kind": ["spot"]})
    assert assets == ["BTC", "ETH", "SOL"]


def test_datetime64_columns_are_filtered_to_the_millisecond(client, market) -> None:
    """$__timeFilter compares with whole seconds (toDateTime); DateTime64 columns take $__timeFilter_ms."""
    db = market.selection().db
    precise = {name for (name,) in client.query(
        f"SELECT DISTINCT name FROM system.columns WHERE database = '{db}' AND type LIKE 'DateTime64%'").result_rows}
    assert "trade_time" in precise
    for panel in PANELS:
        for column in re.findall(r"\$__timeFilter\(\s*(?:\w+\.)?(\w+)\s*\)", panel.sql):
            assert column not in precise, f"{panel.key}: $__timeFilter({column}) on a DateTime64 column"


def test_market_queries_read_the_materialized_views() -> None:
    """Only the volume profile, trades/s, latency and freshness may scan raw trades."""
    raw = {p.key for p in PANELS if ".trades" in p.sql}
    assert raw == {"volume_profile", "trades_per_second", "latency", "freshness", "venue_health"}
