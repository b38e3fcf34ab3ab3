"""A ClickHouse result as the data frames grafana-clickhouse-datasource v4 hands to Grafana's frontend.

The plugin's backend (sqlds v5) converts every column to a frame field: Date/DateTime/DateTime64 to a time
field, integers, floats and decimals to numbers, strings to strings. With the query's ``format`` set to
time series (0) and a frame in long layout (a time column, string columns and numbers), sqlds turns it
wide with ``data.LongToWide`` of grafana-plugin-sdk-go: one field per number column and per distinct
combination of the strings, the strings becoming that field's labels, missing points left null. Table
format (1) returns the rows as they are. Time values travel as epoch milliseconds, as in Grafana's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

TIME_SERIES_FORMAT, TABLE_FORMAT = 0, 1  # sqlds FormatQueryOption

_TYPES = (
    (re.compile(r"^(Nullable\()?(LowCardinality\()?(Date|Date32|DateTime|DateTime64)\b"), "time"),
    (re.compile(r"^(Nullable\()?(U?Int\d+|Float\d+|Decimal)"), "number"),
    (re.compile(r"^(Nullable\()?(LowCardinality\()?(String|FixedString|Enum)"), "string"),
    (re.compile(r"^(Nullable\()?Bool"), "boolean"),
)

Frame = dict[str, Any]


def field_type(clickhouse_type: str) -> str:
    """The Grafana field type of a ClickHouse column type."""
    for pattern, kind in _TYPES:
        if pattern.match(clickhouse_type):
            return kind
    raise ValueError(f"no Grafana field type for ClickHouse type {clickhouse_type}")


def _value(kind: str, value: object) -> object:
    if value is None:
        return None
    if kind == "time":
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return round(moment.timestamp() * 1000, 3)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000
    if kind == "number":
        return float(value) if isinstance(value, Decimal) else value
    return value


def table_frame(names: Sequence[str], types: Sequence[str], columns: Sequence[Sequence[object]]) -> Frame:
    """Rows as the plugin returns them in table format: one field per column, in order."""
    fields = []
    for name, ch_type, values in zip(names, types, columns, strict=True):
        kind = field_type(ch_type)
        fields.append({"name": name, "type": kind, "values": [_value(kind, v) for v in values]})
    return {"refId": "A", "fields": fields}


def long_to_wide(frame: Frame) -> Frame:
    """sdk-go ``data.LongToWide``: one time field, one field per number column and string combination."""
    fields = frame["fields"]
    times = [f for f in fields if f["type"] == "time"]
    if len(times) != 1:
        raise ValueError("a long time series needs exactly one time field")
    time = times[0]
    factors = [f for f in fields if f["type"] == "string"]
    numbers = [f for f in fields if f["type"] == "number"]
    if not factors:
        return frame
    stamps = sorted(set(time["values"]))
    row_of = {t: i for i, t in enumerate(stamps)}
    keys: list[tuple[str, ...]] = []
    cells: dict[tuple[str, str, tuple[str, ...]], list[object]] = {}
    for row, stamp in enumerate(time["values"]):
        key = tuple(str(f["values"][row]) for f in factors)
        if key not in keys:
            keys.append(key)
        for number in numbers:
            slot = cells.setdefault((number["name"], "", key), [None] * len(stamps))
            slot[row_of[stamp]] = number["values"][row]
    wide = [{"name": time["name"], "type": "time", "values": stamps}]
    for number in numbers:
        for key in keys:
            wide.append({
                "name": number["name"],
                "type": "number",
                "labels": {f["name"]: value for f, value in zip(factors, key, strict=True)},
                "values": cells[(number["name"], "", key)],
            })
    return {"refId": frame["refId"], "fields": wide}


def plugin_frames(result: Any, query_format: int) -> list[Frame]:
    """The frames for one query result (a clickhouse-connect ``QueryResult``) in the target's format."""
    types = [t.name for t in result.column_types]
    frame = table_frame(result.column_names, types, result.result_columns or [[] for _ in types])
    return [long_to_wide(frame) if query_format == TIME_SERIES_FORMAT else frame]
