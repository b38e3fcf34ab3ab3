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
    """Where a panel sits: overview (all symbols), one copy per symbol, pipeline health, or across venues."""

    OVERVIEW = "overview"
    SYMBOL = "symbol"
    PIPELINE = "pipeline"
    VENUES = "venues"


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
    default: str = ""  # a single-value variable's preferred option (Grafana keeps it when the query lists it)


# What each visual type needs from its result, by column kind (checked by the tests on real results).
def requirement_errors(panel: Panel) -> list[str]:
    """Reasons the declared columns cannot feed the panel's visual type (empty when they can)."""
    times, numbers, strings = panel.names(Kind.TIME), panel.names(Kind.NUMBER), panel.names(Kind.STRING)
    needs: dict[Viz, list[tuple[bool, str]]] = {
        Viz.STAT: [
            (bool(numbers), "a stat needs at least one number"),
            (not strings or not any(panel.column(n).label for n in numbers),
             "a stat with a name column titles values '<name> <column>'; a label would drop the name"),
        ],
        Viz.CANDLESTICK: [
            (times[:1] == ["time"], "a candlestick needs a time column named time"),
            ({"open", "high", "low", "close", "volume"} <= set(numbers), "a candlestick needs OHLC and volume"),
        ],
        Viz.TIMESERIES: [
            (len(times) == 1, "a time series needs exactly one time column"),
            (bool(numbers), "a time series needs at least one number"),
            (not strings or panel.time_series_format, "a string column needs the time-series (long) format"),
            (not panel.time_series_format or (numbers == ["Value"] and not panel.column("Value").label),
             "a long time series has one number column named Value, unlabelled, so each series is named by "
             "its labels"),
        ],
        Viz.BUBBLES: [
            (bool(times or numbers), "an XY chart needs an x column"),
            (len(bubble_series(panel)) >= 2 and "size" in numbers,
             "a whale radar needs coloured y columns (one series each) and a size column"),
            (not titles_share_word([panel.column(n).title for n in bubble_series(panel)]),
             "the y series' titles share a word, which the xychart legend strips"),
        ],
        Viz.TABLE: [(bool(panel.columns), "a table needs columns")],
        Viz.PROFILE: [
            ("price" in numbers, "a volume profile needs a numeric price column for the bar axis"),
            (len(numbers) >= 2, "a volume profile needs at least one volume series"),
        ],
    }
    return [message for ok, message in needs[panel.viz] if not ok]


def bubble_series(panel: Panel) -> list[str]:
    """The y columns of a bubble chart: its coloured number columns, one series each."""
    return [c.name for c in panel.columns if c.kind is Kind.NUMBER and c.color]


def titles_share_word(titles: list[str]) -> bool:
    """Whether all titles start or end with the same word (Grafana's xychart legend drops such words)."""
    words = [t.split() for t in titles]
    if len(words) < 2:
        return False
    return len({w[0] for w in words}) == 1 or len({w[-1] for w in words}) == 1
