"""The vocabulary of a panel definition: what a panel is, independent of Grafana or plotly."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Viz(StrEnum):
    """Visual type; each maps to one Grafana panel type and one plotly rendering."""

    STAT = "stat"
    CANDLESTICK = "candlestick"
    TIMESERIES = "timeseries"
    BUBBLES = "xychart"
    TABLE = "table"
    PROFILE = "barchart"


class Kind(StrEnum):
    """What a result column must be, as Grafana sees it."""

    TIME = "time"
    NUMBER = "number"
    STRING = "string"


class Scope(StrEnum):
    """Where a panel sits: overview (all symbols), one copy per symbol, or pipeline health."""

    OVERVIEW = "overview"
    SYMBOL = "symbol"
    PIPELINE = "pipeline"


@dataclass(frozen=True)
class Column:
    """One result column and how to draw it."""

    name: str
    kind: Kind
    label: str = ""
    color: str = ""
    style: str = ""  # timeseries: "line", "bars", "area"; stat: "percent"
    stack: bool = False
    unit: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Panel:
    """One panel: the single definition both Grafana and the embedded page are built from.

    ``sql`` uses ``{db}`` for the database, Grafana variables as ``${symbol:singlequote}`` /
    ``${market:singlequote}``, and the ClickHouse plugin v4 macros (``$__timeFilter`` …).
    """

    key: str
    title: str
    description: str
    viz: Viz
    scope: Scope
    sql: str
    columns: tuple[Column, ...]
    width: int
    height: int
    unit: str = ""
    min_interval: str = ""
    time_series_format: bool = False  # long format with a string column: one series per value
    options: dict[str, object] = field(default_factory=dict)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def names(self, kind: Kind) -> list[str]:
        return [c.name for c in self.columns if c.kind is kind]


@dataclass(frozen=True)
class Variable:
    """A dashboard variable whose options come from a ClickHouse query."""

    name: str
    label: str
    sql: str
    multi: bool
