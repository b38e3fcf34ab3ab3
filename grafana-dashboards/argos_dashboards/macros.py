"""Expand panel SQL exactly as Grafana + grafana-clickhouse-datasource v4 would before it reaches ClickHouse.

Two steps, in Grafana's order: the frontend interpolates template variables (``${name:singlequote}``,
``${name}``), then the plugin backend expands its macros (``$__timeFilter(col)`` → ``col >= toDateTime(from)
AND col <= toDateTime(to)``, …; see the plugin's ``pkg/macros/macros.go``). The same expanded SQL runs
on chDB in the tests and behind the embedded page, so what is tested is what Grafana sends.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

_MACRO = re.compile(r"\$__(\w+)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")

# Grafana's interval rounding (rangeutil.roundInterval): raw interval in ms -> displayed interval in ms.
_ROUNDING: tuple[tuple[float, int], ...] = (
    (1_500, 1_000), (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000),
    (25_000, 20_000), (45_000, 30_000), (85_000, 60_000), (210_000, 120_000), (450_000, 300_000),
    (870_000, 600_000), (1_350_000, 900_000), (2_700_000, 1_800_000), (5_400_000, 3_600_000),
    (9_000_000, 7_200_000), (16_200_000, 10_800_000), (27_000_000, 21_600_000),
    (43_200_000, 43_200_000), (math.inf, 86_400_000),
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class MacroError(ValueError):
    """The SQL uses a macro or variable that Grafana or the plugin would not expand."""


@dataclass(frozen=True)
class QueryWindow:
    """What Grafana passes with every query: the time range and the interval ($__interval)."""

    start: datetime
    end: datetime
    interval_s: int

    @classmethod
    def for_panel(cls, start: datetime, end: datetime, min_interval: str = "", max_points: int = 300) -> QueryWindow:
        """Interval the way Grafana derives it: range / max data points, rounded, at least the panel's minimum."""
        raw_ms = (end - start).total_seconds() * 1000 / max(max_points, 1)
        rounded_ms = next(out for limit, out in _ROUNDING if raw_ms < limit)
        interval = max(rounded_ms // 1000, parse_duration(min_interval) if min_interval else 1, 1)
        return cls(_utc(start), _utc(end), interval)


def parse_duration(text: str) -> int:
    """Seconds in a Grafana duration such as ``30s``, ``1m``, ``2h``."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise MacroError(f"unsupported duration {text!r}; use e.g. 30s, 1m, 1h")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _date(moment: datetime) -> str:
    return f"toDate('{moment:%Y-%m-%d}')"


def _datetime(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())})"


def _datetime64(moment: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(moment.timestamp() * 1000)})"


def _one(args: list[str], name: str) -> str:
    if len(args) != 1:
        raise MacroError(f"$__{name} expects 1 argument, got {len(args)}")
    return args[0]


def _between(col: str, low: str, high: str) -> str:
    return f"{col} >= {low} AND {col} <= {high}"


def _date_time_filter(w: QueryWindow, args: list[str]) -> str:
    if len(args) != 2:
        raise MacroError(f"$__dateTimeFilter expects 2 arguments, got {len(args)}")
    date_col, time_col = args
    return (
        f"({_between(date_col, _date(w.start), _date(w.end))}) AND "
        f"({_between(time_col, _datetime(w.start), _datetime(w.end))})"
    )


_MACROS: dict[str, Callable[[QueryWindow, list[str]], str]] = {
    "fromTime": lambda w, a: _datetime(w.start),
    "toTime": lambda w, a: _datetime(w.end),
    "fromTime_ms": lambda w, a: _datetime64(w.start),
    "toTime_ms": lambda w, a: _datetime64(w.end),
    "timeFilter": lambda w, a: _between(_one(a, "timeFilter"), _datetime(w.start), _datetime(w.end)),
    "timeFilter_ms": lambda w, a: _between(_one(a, "timeFilter_ms"), _datetime64(w.start), _datetime64(w.end)),
    "dateFilter": lambda w, a: _between(_one(a, "dateFilter"), _date(w.start), _date(w.end)),
    "dateTimeFilter": _date_time_filter,
    "dt": _date_time_filter,
    "timeInterval": lambda w, a: (
        f"toStartOfInterval(toDateTime({_one(a, 'timeInterval')}), INTERVAL {max(w.interval_s, 1)} second)"
    ),
    "timeInterval_ms": lambda w, a: (
        f"toStartOfInterval(toDateTime64({_one(a, 'timeInterval_ms')}, 3), "
        f"INTERVAL {max(w.interval_s * 1000, 1)} millisecond)"
    ),
    "interval_s": lambda w, a: str(max(w.interval_s, 1)),
}


def _arguments(sql: str, open_at: int) -> tuple[list[str], int]:
    """Comma-separated arguments of the parenthesis at ``open_at``; returns them and the index after ')'."""
    depth, args, current = 0, [], []
    for i in range(open_at, len(sql)):
        char = sql[i]
        if char == "(":
            depth += 1
            if depth == 1:
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return [a for a in args if a], i + 1
        elif char == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    raise MacroError(f"unbalanced parenthesis after macro at {sql[max(open_at - 20, 0):open_at + 20]!r}")


def expand_macros(sql: str, window: QueryWindow) -> str:
    """Replace every ``$__macro`` / ``$__macro(args)`` the way the plugin's backend does."""
    out, pos = [], 0
    for match in _MACRO.finditer(sql):
        if match.start() < pos:
            continue
        name = match.group(1)
        if name not in _MACROS:
            raise MacroError(f"$__{name} is not a grafana-clickhouse-datasource v4 macro")
        end, args = match.end(), []
        if end < len(sql) and sql[end] == "(":
            args, end = _arguments(sql, end)
        out.append(sql[pos : match.start()])
        out.append(_MACROS[name](window, args))
        pos = end
    out.append(sql[pos:])
    return "".join(out)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def interpolate(text: str, variables: Mapping[str, Sequence[str]]) -> str:
    """Grafana's template interpolation for the formats Argos uses: ``${v:singlequote}``, ``${v}``, ``$v``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        if name.startswith("__"):
            return match.group(0)  # a plugin macro, expanded later
        if name not in variables:
            raise MacroError(f"variable ${name} is not defined")
        values = list(variables[name])
        if fmt == "singlequote":
            return ",".join(_quote(v) for v in values) if values else "''"
        if fmt:
            raise MacroError(f"variable format {fmt!r} is not supported")
        return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"

    return _VARIABLE.sub(replace, text)


def render(
    sql: str, window: QueryWindow, variables: Mapping[str, Sequence[str]], db: str = "argos"
) -> str:
    """Panel SQL as ClickHouse receives it from Grafana: database, variables, then macros."""
    expanded = expand_macros(interpolate(sql.replace("{db}", db), variables), window)
    if "$" in expanded.replace("$$", ""):
        raise MacroError(f"unexpanded placeholder left in SQL: {expanded!r}")
    return expanded.strip()


def now_utc() -> datetime:
    return datetime.now(UTC)
