"""Draw a panel's rows as a plotly figure for the embedded page, one function per visual type."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from argos_dashboards.model import Kind, Panel, Viz, bubble_series
from argos_dashboards.panels import BUY, GREY, SELL

PANEL_BG = "#161a1e"
GRID = "#2b3139"
MUTED = "#848e9c"
FONT = "Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
PRICE_FORMAT = ",.6~g"  # 64,932.8 / 3,150.49 / 0.000123: full prices, as traders read them
SYMBOL_COLORS = ("#f0b90b", "#42a5f5", "#ab47bc", "#26a69a", "#ff7043", "#8d6e63")


def _layout(fig: go.Figure, **extra: object) -> go.Figure:
    base: dict[str, object] = {
        "template": "plotly_dark",
        "paper_bgcolor": PANEL_BG,
        "plot_bgcolor": PANEL_BG,
        "font": {"family": FONT, "size": 11, "color": MUTED},
        "margin": {"l": 10, "r": 10, "t": 6, "b": 30},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "bgcolor": "rgba(0,0,0,0)"},
        "hovermode": "x unified",
        "hoverlabel": {"bgcolor": "#1e2329", "bordercolor": GRID, "font": {"color": "#eaecef"}},
        "showlegend": True,
    }
    fig.update_layout(**{**base, **extra})
    fig.update_xaxes(gridcolor=GRID, zeroline=False, linecolor=GRID, showspikes=False)
    fig.update_yaxes(gridcolor=GRID, zeroline=False, linecolor=GRID, side="right")
    return fig


def _number(value: float, unit: str = "") -> dict[str, object]:
    digits = 0 if float(value).is_integer() else 2 if abs(value) >= 1 else 6
    fmt = {"s": {"suffix": " s", "valueformat": ".1f"}, "ms": {"suffix": " ms", "valueformat": ".0f"}}
    return fmt.get(unit, {"valueformat": f",.{digits}f"})


def stat(panel: Panel, rows: pd.DataFrame) -> go.Figure:
    """One big number per row and column; a ``percent`` column becomes the green/red delta."""
    fig = go.Figure()
    names = rows[panel.names(Kind.STRING)[0]].tolist() if panel.names(Kind.STRING) else [""] * len(rows)
    values = [c for c in panel.columns if c.kind is Kind.NUMBER and c.style != "percent"]
    change = next((c for c in panel.columns if c.style == "percent"), None)
    tiles = [(i, col) for i in range(len(rows)) for col in values]
    for n, (i, col) in enumerate(tiles):
        value = float(rows[col.name].iloc[i])
        indicator: dict[str, object] = {
            "mode": "number",
            "value": value,
            "number": {**_number(value, col.unit or panel.unit), "font": {"size": 30, "color": "#eaecef"}},
            "title": {"text": names[i] or col.title, "font": {"size": 13, "color": MUTED}},
            "domain": {"row": 0, "column": n},
        }
        if change is not None:
            pct = float(rows[change.name].iloc[i])
            indicator["mode"] = "number+delta"
            indicator["delta"] = {
                "reference": value / (1 + pct / 100),
                "relative": True,
                "valueformat": "+.2%",
                "increasing": {"color": BUY},
                "decreasing": {"color": SELL},
                "font": {"size": 15},
            }
        fig.add_trace(go.Indicator(**indicator))
    fig.update_layout(grid={"rows": 1, "columns": max(len(tiles), 1), "pattern": "independent"})
    return _layout(fig, margin={"l": 8, "r": 8, "t": 24, "b": 8})


def candlestick(panel: Panel, rows: pd.DataFrame) -> go.Figure:
    """Candles over volume bars coloured by the candle's direction."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.76, 0.24], vertical_spacing=0.03)
    fig.add_trace(
        go.Candlestick(
            x=rows["time"], open=rows["open"], high=rows["high"], low=rows["low"], close=rows["close"],
            name="OHLC", increasing={"line": {"color": BUY}, "fillcolor": BUY},
            decreasing={"line": {"color": SELL}, "fillcolor": SELL}, showlegend=False,
        ),
        row=1, col=1,
    )
    colors = [BUY if c >= o else SELL for o, c in zip(rows["open"], rows["close"], strict=True)]
    fig.add_trace(
        go.Bar(x=rows["time"], y=rows["volume"], name="Volume", marker={"color": colors, "opacity": 0.6},
               showlegend=False),
        row=2, col=1,
    )
    _layout(fig, hovermode="x")
    fig.update_xaxes(rangeslider_visible=False)
    fig.update_yaxes(tickformat=PRICE_FORMAT, row=1, col=1)
    return fig


def _long_to_wide(panel: Panel, rows: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """Long time-series rows (time, label, value) pivoted to one column per label, as the plugin does: a label
    without a row at a time is a gap in its line (as in Grafana), not a zero, except in stacked bars."""
    label = panel.names(Kind.STRING)[0]
    value = panel.names(Kind.NUMBER)[0]
    wide = rows.pivot_table(index="time", columns=label, values=value, aggfunc="sum")
    if panel.column(value).stack:
        wide = wide.fillna(0)
    wide = wide.reset_index()
    labels = [c for c in wide.columns if c != "time"]
    style = panel.column(value).style or "line"
    return wide, [(str(name), SYMBOL_COLORS[i % len(SYMBOL_COLORS)], style) for i, name in enumerate(labels)]


def timeseries(panel: Panel, rows: pd.DataFrame) -> go.Figure:
    """Lines, areas and bars per column; bars stack relative so sells hang below zero."""
    fig = go.Figure()
    if panel.time_series_format:
        rows, series = _long_to_wide(panel, rows)
        stacked = {name for name, _, _ in series} if panel.column(panel.names(Kind.NUMBER)[0]).stack else set()
        titles = {name: name for name, _, _ in series}
    else:
        series = [(c.name, c.color or SYMBOL_COLORS[i], c.style or "line")
                  for i, c in enumerate(c for c in panel.columns if c.kind is Kind.NUMBER)]
        stacked = {c.name for c in panel.columns if c.stack}
        titles = {c.name: c.title for c in panel.columns}
    for name, color, style in series:
        if style == "bars":
            fig.add_trace(go.Bar(x=rows["time"], y=rows[name], name=titles[name], marker={"color": color}))
            continue
        trace = {"x": rows["time"], "y": rows[name], "name": titles[name], "mode": "lines",
                 "line": {"color": color, "width": 2 if style == "line" else 1.2}}
        if name in stacked:
            trace["stackgroup"] = "stack"
        elif style == "area":
            trace["fill"] = "tozeroy"
        fig.add_trace(go.Scatter(**trace))
    unit = {"ms": " ms", "s": " s"}.get(panel.unit, "")
    _layout(fig, barmode="relative", bargap=0.15)
    fig.update_yaxes(ticksuffix=unit, tickformat=PRICE_FORMAT if "price" in titles else ",")
    return fig


def bubbles(panel: Panel, rows: pd.DataFrame) -> go.Figure:
    """Whale radar: time × price, bubble area from log10(quote), green taker buys, red taker sells."""
    fig = go.Figure()
    lo, hi = (rows["size"].min(), rows["size"].max()) if len(rows) else (0.0, 1.0)
    span = (hi - lo) or 1.0
    for name, color in ((n, panel.column(n).color) for n in bubble_series(panel)):
        part = rows[rows[name].notna()]
        fig.add_trace(go.Scatter(
            x=part["time"], y=part[name], mode="markers", name=panel.column(name).title,
            marker={"size": 8 + 34 * (part["size"] - lo) / span, "color": color, "opacity": 0.55,
                    "line": {"color": color, "width": 1}},
            customdata=part["quote"], hovertemplate="%{y:,.2f}<br>$%{customdata:,.0f}<extra></extra>",
        ))
    _layout(fig, hovermode="closest")
    fig.update_yaxes(tickformat=PRICE_FORMAT)
    return fig


def _cell_format(values: pd.Series) -> Callable[[float], str]:
    """A count (every value whole) without decimals; other numbers with two, or 5 significant digits below 1."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if ((numbers % 1) == 0).all():
        return lambda v: "–" if v != v else f"{v:,.0f}"
    return lambda v: "–" if v != v else f"{v:,.5g}" if abs(v) < 1 else f"{v:,.2f}"


def table(panel: Panel, rows: pd.DataFrame) -> go.Figure:
    """Plain dark table; taker side in its colour."""
    cells = []
    for col in panel.columns:
        values = rows[col.name]
        if col.kind is Kind.TIME:
            values = values.dt.strftime("%H:%M:%S.%f").str[:-3]
        elif col.unit == "currencyUSD":
            values = values.map(lambda v: f"${v:,.0f}")
        elif col.kind is Kind.NUMBER:
            values = values.map(_cell_format(values))
        cells.append(values.tolist())
    side = rows["side"].tolist() if "side" in rows else []
    font_colors = [[BUY if s == "buy" else SELL for s in side] if c.name == "side" else "#eaecef"
                   for c in panel.columns]
    fig = go.Figure(go.Table(
        header={"values": [c.title for c in panel.columns], "fill_color": "#1e2329",
                "font": {"color": MUTED, "size": 11}, "align": "left", "line_color": GRID},
        cells={"values": cells, "fill_color": PANEL_BG, "font": {"color": font_colors, "size": 11},
               "align": "left", "line_color": GRID, "height": 22},
    ))
    return _layout(fig, margin={"l": 4, "r": 4, "t": 4, "b": 4})


def profile(panel: Panel, rows: pd.DataFrame) -> go.Figure:
    """Volume profile: horizontal bars per price level, POC and value area highlighted."""
    fig = go.Figure()
    for col in panel.columns:
        if col.kind is Kind.NUMBER and col.name != "price":
            fig.add_trace(go.Bar(y=rows["price"], x=rows[col.name], orientation="h", name=col.title,
                                 marker={"color": col.color or GREY}))
    _layout(fig, barmode="stack", bargap=0.08, hovermode="y unified")
    fig.update_yaxes(tickformat=PRICE_FORMAT)
    return fig


_DRAW: dict[Viz, Callable[[Panel, pd.DataFrame], go.Figure]] = {
    Viz.STAT: stat,
    Viz.CANDLESTICK: candlestick,
    Viz.TIMESERIES: timeseries,
    Viz.BUBBLES: bubbles,
    Viz.TABLE: table,
    Viz.PROFILE: profile,
}


def no_data() -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text="No data", showarrow=False, font={"size": 14, "color": MUTED}, x=0.5, y=0.5,
                       xref="paper", yref="paper")
    _layout(fig, showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def draw(panel: Panel, rows: pd.DataFrame) -> go.Figure:
    """The plotly figure of ``panel`` for ``rows`` (a 'No data' figure when empty)."""
    return _DRAW[panel.viz](panel, rows) if len(rows) else no_data()
