"""Macro expansion matches grafana-clickhouse-datasource v4 (outputs as in its pkg/macros tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from argos_dashboards.macros import MacroError, QueryWindow, expand_macros, interpolate, render

FROM = datetime.fromtimestamp(1415792726.371, UTC)
TO = datetime.fromtimestamp(1447328726.371, UTC)
WINDOW = QueryWindow(FROM, TO, 20)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__timeFilter(time)", "time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)"),
        (
            "$__timeFilter_ms(time)",
            "time >= fromUnixTimestamp64Milli(1415792726371) AND time <= fromUnixTimestamp64Milli(1447328726371)",
        ),
        ("$__dateFilter(d)", "d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"),
        (
            "$__dateTimeFilter(d, t)",
            "(d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND "
            "(t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
        ),
        ("$__fromTime", "toDateTime(1415792726)"),
        ("$__toTime", "toDateTime(1447328726)"),
        ("$__fromTime_ms", "fromUnixTimestamp64Milli(1415792726371)"),
        ("$__toTime_ms", "fromUnixTimestamp64Milli(1447328726371)"),
        ("$__timeInterval(c.minute)", "toStartOfInterval(toDateTime(c.minute), INTERVAL 20 second)"),
        ("$__timeInterval_ms(t)", "toStartOfInterval(toDateTime64(t, 3), INTERVAL 20000 millisecond)"),
        ("count() / $__interval_s", "count() / 20"),
        ("$__timeFilter(toDateTime(x, 'UTC'))", "toDateTime(x, 'UTC') >= toDateTime(1415792726) AND "
         "toDateTime(x, 'UTC') <= toDateTime(1447328726)"),
    ],
)
def test_macro_expansion_matches_plugin(sql: str, expected: str) -> None:
    assert expand_macros(sql, WINDOW) == expected


def test_interval_is_rounded_like_grafana_and_respects_panel_minimum() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    hour = datetime(2025, 1, 1, 1, tzinfo=UTC)
    assert QueryWindow.for_panel(start, hour).interval_s == 10  # 12 s raw -> 10 s
    assert QueryWindow.for_panel(start, hour, "1m").interval_s == 60
    assert QueryWindow.for_panel(start, datetime(2025, 1, 2, tzinfo=UTC)).interval_s == 300  # 288 s -> 5m


def test_variables_are_interpolated_with_grafana_formats() -> None:
    variables = {"symbol": ["BTCUSDT", "ETHUSDT"], "market": ["spot"]}
    sql = "symbol IN (${symbol:singlequote}) AND market = ${market:singlequote} AND t = '$market'"
    assert interpolate(sql, variables) == "symbol IN ('BTCUSDT','ETHUSDT') AND market = 'spot' AND t = 'spot'"
    assert interpolate("${symbol:singlequote}", {"symbol": ["it's"]}) == "'it\\'s'"


def test_render_refuses_unknown_macros_and_variables() -> None:
    with pytest.raises(MacroError, match="not a grafana-clickhouse-datasource"):
        render("SELECT $__timeGroup(t, 1m)", WINDOW, {})
    with pytest.raises(MacroError, match="not defined"):
        render("SELECT ${venue:singlequote}", WINDOW, {})
    assert render("SELECT 1 FROM {db}.trades", WINDOW, {}, db="x") == "SELECT 1 FROM x.trades"
