"""Generate the Grafana dashboard JSON from the panel definitions with grafana-foundation-sdk.

``python -m argos_dashboards.grafana`` rewrites ``grafana-dashboards/argos.json``; ``--check`` fails if the
committed file differs from what the definitions produce.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Self

from grafana_foundation_sdk.builders import barchart, candlestick, common, stat, table, timeseries, xychart
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import candlestick as candle_model
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import xychart as xy_model

from argos.resources import component_dir
from argos_dashboards.model import Column, Kind, Panel, Scope, Viz, bubble_series
from argos_dashboards.panels import (
    BUY,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    PANELS,
    SELL,
    VARIABLES,
    panels,
)

# The versions the JSON is written for: Grafana 13.2.0 (grafana-community chart 12.11.0; @grafana/data and
# @grafana/schema of this version check it in grafana-dashboards/tests) and the ClickHouse plugin of
# charts/platform/versions.env. Panels and targets carry them, so neither Grafana nor the plugin re-runs
# migrations meant for older saved models.
GRAFANA_VERSION = "13.2.0"
CLICKHOUSE_PLUGIN_VERSION = "4.20.0"
DASHBOARD_UID = "argos-order-flow"
DASHBOARD_FILE = "argos.json"
MAX_DATA_POINTS = 300  # the embedded page derives $__interval from the same number
DATASOURCE = model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)
TABLE_FORMAT, TIME_SERIES_FORMAT = 1, 0  # sqlds' format option, as the plugin stores it
# The plugin's QueryType per format (src/types/queryBuilder.ts, mapGrafanaFormatToQueryType in v4.20.0).
QUERY_TYPES = {TIME_SERIES_FORMAT: "timeseries", TABLE_FORMAT: "table"}
# Keys the 11.6 foundation-sdk always writes that Grafana 13.2's schema no longer has (the table footer moved
# to field config; auto/auto_min/auto_count belong to interval variables only).
DROPPED_FOR_13 = {"table": ("footer",), "variable": ("auto", "auto_min", "auto_count")}


class ClickHouseQuery(cogvariants.Dataquery):
    """A raw-SQL query of grafana-clickhouse-datasource v4 (the SDK has no type for this plugin)."""

    def __init__(self, raw_sql: str, ref_id: str = "A", time_series: bool = False) -> None:
        self.raw_sql, self.ref_id, self.time_series = raw_sql, ref_id, time_series

    def to_json(self) -> dict[str, object]:
        query_format = TIME_SERIES_FORMAT if self.time_series else TABLE_FORMAT
        return {
            "datasource": DATASOURCE.to_json(),
            "editorType": "sql",
            "format": query_format,
            "pluginVersion": CLICKHOUSE_PLUGIN_VERSION,
            "queryType": QUERY_TYPES[query_format],
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(data["rawSql"], data.get("refId", "A"), data.get("format") == TIME_SERIES_FORMAT)


cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(DATASOURCE_TYPE, ClickHouseQuery.from_json))


class ClickHouseQueryBuilder(cogbuilder.Builder[ClickHouseQuery]):
    def __init__(self, query: ClickHouseQuery) -> None:
        self._query = query

    def build(self) -> ClickHouseQuery:
        return self._query


def grafana_sql(panel: Panel, db: str = "argos") -> str:
    """Panel SQL as stored in Grafana: only the database is filled in; variables and macros stay."""
    return panel.sql.replace("{db}", db).strip()


def _prop(prop_id: str, value: object) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val=prop_id, value=value)


def _fixed(color: str) -> dict[str, str]:
    return {"mode": "fixed", "fixedColor": color}


def _column_overrides(builder: Any, panel: Panel) -> None:
    """Display name, colour, unit and draw style of each column, as field overrides."""
    for col in panel.columns:
        props = []
        if col.label:
            props.append(_prop("displayName", col.label))
        if col.color:
            props.append(_prop("color", _fixed(col.color)))
        if col.unit:
            props.append(_prop("unit", col.unit))
        if panel.viz is Viz.TIMESERIES and col.kind is Kind.NUMBER:
            props.extend(_series_style(col))
        if props:
            builder.override_by_name(col.name, props)


def _series_style(col: Column) -> list[model.DynamicConfigValue]:
    props = []
    if col.style == "bars":
        props += [_prop("custom.drawStyle", "bars"), _prop("custom.fillOpacity", 80)]
    elif col.style == "area":
        props += [_prop("custom.fillOpacity", 35)]
    elif col.style == "line":
        props += [_prop("custom.lineWidth", 2), _prop("custom.fillOpacity", 0)]
    props.append(_prop("custom.stacking", {"mode": "normal" if col.stack else "none", "group": "A"}))
    return props


def _legend() -> common.VizLegendOptions:
    return (
        common.VizLegendOptions()
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def _stat(panel: Panel) -> stat.Panel:
    # No reduceOptions.fields: Grafana's default (every number field) is what a stat panel here shows, and a
    # fields regex is tested against display names, not column names (@grafana/data getFieldDisplayValues).
    builder = (
        stat.Panel()
        .reduce_options(common.ReduceDataOptions().values(True).calcs(["lastNotNull"]))
        .color_mode(cm.BigValueColorMode.VALUE)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .thresholds(dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(
            [model.Threshold(value=None, color="text")]))
    )
    for col in panel.columns:
        if col.style == "percent":
            builder.override_by_name(col.name, [
                _prop("decimals", 2),
                _prop("color", {"mode": "thresholds"}),
                _prop("thresholds", {"mode": "absolute", "steps": [
                    {"color": SELL, "value": None}, {"color": BUY, "value": 0}]}),
            ])
    return builder


def _candlestick(panel: Panel) -> candlestick.Panel:
    return (
        candlestick.Panel()
        .mode(candle_model.VizDisplayMode.CANDLES_VOLUME)
        .candle_style(candle_model.CandleStyle.CANDLES)
        .color_strategy(candle_model.ColorStrategy.OPEN_CLOSE)
        .colors(candlestick.CandlestickColors().up(BUY).down(SELL))
        .fields(candlestick.CandlestickFieldMap().open("open").high("high").low("low").close("close").volume("volume"))
        .include_all_fields(False)
        .legend(_legend())
    )


def _timeseries(panel: Panel) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .draw_style(cm.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(20)
        .show_points(cm.VisibilityMode.NEVER)
        .legend(_legend())
        .tooltip(common.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.NONE))
    )


def _bubbles(panel: Panel) -> xychart.Panel:
    def series(y: str) -> xychart.XYSeriesConfig:
        def by_name(name: str) -> xychart.MatcherConfig:
            return xychart.MatcherConfig().id("byName").options(name)

        return (
            xychart.XYSeriesConfig()
            .name(xychart.XychartXYSeriesConfigName().fixed(panel.column(y).title))
            .frame(xychart.XychartXYSeriesConfigFrame().matcher(xychart.MatcherConfig().id("byIndex").options(0)))
            .x(xychart.XychartXYSeriesConfigX().matcher(by_name("time")))
            .y(xychart.XychartXYSeriesConfigY().matcher(by_name(y)))
            .size(xychart.XychartXYSeriesConfigSize().matcher(by_name("size")))
        )

    return (
        xychart.Panel()
        .mapping(xy_model.SeriesMapping.MANUAL)
        .series([series(y) for y in bubble_series(panel)])
        .show(xy_model.XYShowMode.POINTS)
        .point_size(xychart.XychartFieldConfigPointSize().min(4).max(36))
        .fill_opacity(55)
        .legend(_legend())
    )


def _table(panel: Panel) -> table.Panel:
    builder = table.Panel().cell_height(cm.TableCellHeight.SM)
    builder.override_by_name("side", [
        _prop("mappings", [model.ValueMap(options={
            "buy": model.ValueMappingResult(text="BUY", color=BUY, index=0),
            "sell": model.ValueMappingResult(text="SELL", color=SELL, index=1),
        })]),
        _prop("custom.cellOptions", {"type": "color-text"}),
    ])
    return builder


def _profile(panel: Panel) -> barchart.Panel:
    return (
        barchart.Panel()
        .orientation(cm.VizOrientation.HORIZONTAL)
        .x_field("price")
        .stacking(cm.StackingMode.NORMAL)
        .show_value(cm.VisibilityMode.NEVER)
        .bar_width(0.95)
        .fill_opacity(85)
        .legend(_legend())
    )


_BUILDERS = {
    Viz.STAT: _stat,
    Viz.CANDLESTICK: _candlestick,
    Viz.TIMESERIES: _timeseries,
    Viz.BUBBLES: _bubbles,
    Viz.TABLE: _table,
    Viz.PROFILE: _profile,
}


def grafana_panel(panel: Panel, panel_id: int, db: str = "argos") -> Any:
    """The foundation-sdk builder for one panel."""
    builder = _BUILDERS[panel.viz](panel)
    query = ClickHouseQuery(grafana_sql(panel, db), time_series=panel.time_series_format)
    builder = (
        builder.id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(DATASOURCE)
        .with_target(ClickHouseQueryBuilder(query))
        .span(panel.width)
        .height(panel.height)
        .max_data_points(MAX_DATA_POINTS)
    )
    if panel.min_interval:
        builder.interval(panel.min_interval)
    if panel.unit:
        builder.unit(panel.unit)
    _column_overrides(builder, panel)
    return builder


def _variable(var: Any) -> dash.QueryVariable:
    builder = (
        dash.QueryVariable(var.name)
        .label(var.label)
        .datasource(DATASOURCE)
        .query(var.sql.replace("{db}", "argos"))
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(var.multi)
        .include_all(var.multi)
    )
    if var.multi:
        builder.current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    elif var.default:
        builder.current(model.VariableOption(selected=True, text=var.default, value=var.default))
    return builder


def build_dashboard(db: str = "argos") -> dict[str, object]:
    """The Argos dashboard as Grafana JSON (a plain dict, ready to serialise)."""
    board = (
        dash.Dashboard("Argos · order flow")
        .uid(DASHBOARD_UID)
        .description("Live crypto order flow from Binance, Coinbase, OKX and Bybit trades: Spark Structured "
                     "Streaming into ClickHouse.")
        .tags(["argos", "crypto", "order-flow", "clickhouse"])
        .timezone("utc")
        .time("now-1h", "now")
        .refresh("5s")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .editable()
    )
    for var in VARIABLES:
        board.with_variable(_variable(var))
    ids = iter(range(1, 100))
    for panel in panels(Scope.OVERVIEW):
        board.with_panel(grafana_panel(panel, next(ids), db))
    board.with_row(dash.Row("Pipeline").id(next(ids)))
    for panel in panels(Scope.PIPELINE):
        board.with_panel(grafana_panel(panel, next(ids), db))
    board.with_row(dash.Row("Across venues · $asset").id(next(ids)))
    for panel in panels(Scope.VENUES):
        board.with_panel(grafana_panel(panel, next(ids), db))
    # Repeated last: Grafana clones a repeated row with every panel up to the next row.
    board.with_row(dash.Row("$symbol").id(next(ids)).repeat("symbol"))
    for panel in panels(Scope.SYMBOL):
        board.with_panel(grafana_panel(panel, next(ids), db))
    assert len(PANELS) == sum(len(panels(s)) for s in Scope)
    return _for_grafana(json.loads(json.dumps(board.build(), cls=JSONEncoder)))


def _for_grafana(board: dict[str, Any]) -> dict[str, Any]:
    """Stamp every panel with the Grafana version it is written for (the SDK's panel builders have no setter)
    and drop the keys the 11.6 SDK writes that Grafana 13.2's schema has removed."""
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        panel["pluginVersion"] = GRAFANA_VERSION
        if panel["type"] == "table":
            for key in DROPPED_FOR_13["table"]:
                panel["options"].pop(key, None)
    for variable in board["templating"]["list"]:
        for key in DROPPED_FOR_13["variable"]:
            variable.pop(key, None)
    return board


def render_json(db: str = "argos") -> str:
    """The committed file's exact text."""
    return json.dumps(build_dashboard(db), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder (default: grafana-dashboards/)")
    parser.add_argument("--check", action="store_true", help="fail if the file on disk is stale")
    args = parser.parse_args(argv)
    path = args.out / DASHBOARD_FILE if args.out else component_dir(__file__, DASHBOARD_FILE)
    text = render_json()
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is stale. Fix: python -m argos_dashboards.grafana", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
