"""Run panel SQL through a caller-supplied query function and shape the results for drawing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Union

import pandas as pd
import pyarrow as pa

from argos_dashboards.macros import QueryWindow, now_utc, render
from argos_dashboards.model import Kind, Panel, Variable
from argos_dashboards.panels import VARIABLES

QueryFn = Callable[[str], Union[pa.Table, pd.DataFrame]]  # noqa: UP007 (a runtime alias)


@dataclass(frozen=True)
class Selection:
    """Dashboard state: database, time range and variable values (what Grafana's URL would hold)."""

    db: str
    start: datetime
    end: datetime
    variables: dict[str, list[str]] = field(default_factory=dict)

    def window(self, panel: Panel) -> QueryWindow:
        return QueryWindow.for_panel(self.start, self.end, panel.min_interval)

    def only(self, **values: list[str]) -> Selection:
        return Selection(self.db, self.start, self.end, {**self.variables, **values})


def panel_sql(panel: Panel, selection: Selection) -> str:
    """The exact SQL ClickHouse receives for ``panel`` in ``selection``."""
    return render(panel.sql, selection.window(panel), selection.variables, selection.db)


def to_frame(result: pa.Table | pd.DataFrame, panel: Panel | None = None) -> pd.DataFrame:
    """A pandas frame with UTC timestamps for time columns (Arrow carries ClickHouse DateTime as UInt32)."""
    frame = result.to_pandas() if isinstance(result, pa.Table) else result.copy()
    if panel is None:
        return frame
    for name in panel.names(Kind.TIME):
        if name not in frame:
            continue
        column = frame[name]
        if pd.api.types.is_integer_dtype(column):
            frame[name] = pd.to_datetime(column, unit="s", utc=True)
        else:
            frame[name] = pd.to_datetime(column, utc=True)
    for name in panel.names(Kind.NUMBER):
        if name in frame:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def run_panel(query: QueryFn, panel: Panel, selection: Selection) -> pd.DataFrame:
    """Execute one panel and return its rows."""
    return to_frame(query(panel_sql(panel, selection)), panel)


def variable_values(query: QueryFn, variable: Variable, db: str, start: datetime, end: datetime,
                    chosen: dict[str, list[str]] | None = None) -> list[str]:
    """Options of a query variable, as Grafana's variable editor would list them (``chosen``: the values of the
    variables its query depends on)."""
    sql = render(variable.sql, QueryWindow(start, end, 1), chosen or {}, db)
    frame = to_frame(query(sql))
    return [str(v) for v in frame.iloc[:, 0].tolist()] if len(frame.columns) else []


def newest_minute(query: QueryFn, db: str) -> datetime | None:
    """Start of the newest candle minute, or None when there is no data yet."""
    frame = to_frame(query(f"SELECT toUnixTimestamp(max(minute)) AS m, count() AS n FROM {db}.candles_1m"))
    if frame.empty or int(frame["n"].iloc[0]) == 0:
        return None
    return pd.Timestamp(int(frame["m"].iloc[0]), unit="s", tz="UTC").to_pydatetime()


def default_selection(
    query: QueryFn, db: str, window_s: int = 3600, symbols: list[str] | None = None, end: datetime | None = None
) -> Selection:
    """Last ``window_s`` seconds up to now; if the data stopped before that window, up to the newest data
    (so a report of an old run is not empty). Market defaults to spot, the venue to Binance (else the first),
    symbols to all of that venue, the compared venues to all and the asset to BTC (else the first)."""
    if end is None:
        end = now_utc()
        newest = newest_minute(query, db)
        if newest is not None and newest + timedelta(seconds=60) < end - timedelta(seconds=window_s):
            end = newest + timedelta(seconds=60)
    start = end - timedelta(seconds=window_s)
    by_name = {v.name: v for v in VARIABLES}
    markets = variable_values(query, by_name["market"], db, start, end)
    market = ["spot"] if "spot" in markets or not markets else markets[:1]
    venues = variable_values(query, by_name["venue"], db, start, end)
    preferred = by_name["venue"].default
    venue = [preferred] if preferred in venues or not venues else venues[:1]
    found = variable_values(query, by_name["symbol"], db, start, end, {"venue": venue, "market": market})
    chosen = [s for s in (symbols or found) if s in found] if symbols else found
    kinds = variable_values(query, by_name["kind"], db, start, end, {"venues": venues})
    kind = [by_name["kind"].default] if by_name["kind"].default in kinds or not kinds else kinds[:1]
    assets = variable_values(query, by_name["asset"], db, start, end, {"venues": venues, "kind": kind})
    asset = [by_name["asset"].default] if by_name["asset"].default in assets or not assets else assets[:1]
    return Selection(db, start, end, {"market": market, "venue": venue, "symbol": chosen, "venues": venues,
                                      "kind": kind, "asset": asset})
