"""Binance: the exchange facts and pure parse functions, from raw payloads to ``argos.contract`` records.

Everything Binance-specific lives here (cryptofeed-style venue isolation): endpoints, stream names and
limits as declarative data at the top, then one small parser per payload shape, each with the raw payload
it parses in its docstring. The parsers never raise: whatever cannot become a :class:`Trade` comes back as
a :class:`Reject` that names the field, so it reaches the dead letters instead of vanishing. The
connection loop that uses them (reconnect, pings, backfill) is venue-agnostic: ``argos_ingest.feed``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

from argos.contract import Reject, Trade, now_us
from argos.settings import SYMBOL_PATTERN, IngestSettings

VENUE = "binance"

_DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?$")
_NONZERO = re.compile(r"[1-9]")
_SYMBOL = re.compile(SYMBOL_PATTERN)
_RAW_LIMIT = 64 * 1024  # keep dead letters bounded even when a frame is huge


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """How one Binance market streams trades and how its history is fetched by id."""

    market: Literal["spot", "usdm"]
    stream: str  # stream suffix: <symbol>@<stream>
    event: str  # the "e" field of that stream's events
    id_field: str  # the event field that carries the consecutive id
    combined_path: str  # appended to the WS base from settings
    backfill_path: str  # REST endpoint that pages that id by fromId
    max_streams: int
    max_incoming_per_second: int
    server_ping_seconds: float

    def ws_base(self, settings: IngestSettings) -> str:
        return settings.binance_ws_url if self.market == "spot" else settings.binance_futures_ws_url

    def rest_base(self, settings: IngestSettings) -> str:
        return settings.binance_rest_url if self.market == "spot" else settings.binance_futures_rest_url

    def stream_name(self, symbol: str) -> str:
        return f"{symbol.lower()}@{self.stream}"

    def combined_url(self, settings: IngestSettings, symbols: Sequence[str]) -> str:
        """``<base>/stream?streams=btcusdt@trade/ethusdt@trade`` (one connection, N symbols)."""
        streams = "/".join(self.stream_name(s) for s in symbols)
        return f"{self.ws_base(settings).rstrip('/')}{self.combined_path}?streams={streams}"

    def backfill_url(self, settings: IngestSettings) -> str:
        return f"{self.rest_base(settings).rstrip('/')}{self.backfill_path}"


class Binance:
    """Binance facts Argos relies on (see shared/binance-protocol.md)."""

    SPOT_WS: ClassVar[str] = "wss://stream.binance.com:9443"
    SPOT_MARKET_DATA_WS: ClassVar[str] = "wss://data-stream.binance.vision"
    SPOT_REST: ClassVar[str] = "https://api.binance.com"
    USDM_WS: ClassVar[str] = "wss://fstream.binance.com/market"  # /ws and /stream at the root stay silent
    USDM_REST: ClassVar[str] = "https://fapi.binance.com"

    HISTORICAL_TRADES: ClassVar[str] = "/api/v3/historicalTrades"
    AGG_TRADES: ClassVar[str] = "/api/v3/aggTrades"
    USDM_AGG_TRADES: ClassVar[str] = "/fapi/v1/aggTrades"
    REST_MAX_LIMIT: ClassVar[int] = 1000
    CONNECTION_LIFETIME_SECONDS: ClassVar[float] = 24 * 3600
    MAX_CONNECT_ATTEMPTS_PER_5MIN: ClassVar[int] = 300
    MICROSECOND_PARAM: ClassVar[str] = "timeUnit=MICROSECOND"

    SPOT: ClassVar[MarketSpec] = MarketSpec(
        market="spot", stream="trade", event="trade", id_field="t", combined_path="/stream",
        backfill_path="/api/v3/historicalTrades", max_streams=1024, max_incoming_per_second=5,
        server_ping_seconds=20,
    )
    USDM: ClassVar[MarketSpec] = MarketSpec(
        market="usdm", stream="aggTrade", event="aggTrade", id_field="a", combined_path="/stream",
        backfill_path="/fapi/v1/aggTrades", max_streams=1024, max_incoming_per_second=10,
        server_ping_seconds=180,
    )

    # Epoch magnitudes: 1e14 ms is the year 5138 and 1e14 µs is 1973, so the digit count tells the unit.
    _MICROS_FROM: ClassVar[int] = 10**14
    _NANOS_FROM: ClassVar[int] = 10**17

    @classmethod
    def market(cls, market: str) -> MarketSpec:
        if market == "spot":
            return cls.SPOT
        if market == "usdm":
            return cls.USDM
        raise ValueError(f"unknown Binance market {market!r}; use 'spot' or 'usdm'")

    @classmethod
    def timestamp_us(cls, value: Any) -> int:
        """Any Binance epoch timestamp (ms, µs with ``timeUnit=MICROSECOND`` or 2025+ dumps, ns) → µs.

        Raises ``ValueError`` for non-integers and negative values (callers turn that into a Reject).
        """
        if isinstance(value, bool):
            raise ValueError("is a boolean, not an epoch timestamp")
        if isinstance(value, str):
            if not value.isdigit():
                raise ValueError("is not an integer epoch timestamp")
            value = int(value)
        if not isinstance(value, int) or value < 0:
            raise ValueError("is not a non-negative integer epoch timestamp")
        if value >= cls._NANOS_FROM:
            return value // 1_000
        if value >= cls._MICROS_FROM:
            return value
        return value * 1_000


@dataclass(frozen=True, slots=True)
class Control:
    """A frame that is not market data: a subscribe ack, a server error, or ``serverShutdown``."""

    kind: Literal["ack", "error", "shutdown"]
    detail: str


Parsed = Trade | Reject | Control


class _Bad(ValueError):
    """Internal: a field failed validation; the message becomes the Reject reason."""


def _reject(reason: str, raw: str | bytes) -> Reject:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    return Reject(venue=VENUE, reason=f"{VENUE}: {reason}", raw=text[:_RAW_LIMIT])


def _field(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise _Bad(f"field '{key}' is missing")
    return data[key]


def _decimal(data: Mapping[str, Any], key: str) -> str:
    value = _field(data, key)
    if not isinstance(value, str) or not _DECIMAL.match(value) or not _NONZERO.search(value):
        raise _Bad(f"field '{key}' is not a positive decimal string (got {value!r:.40})")
    return value


def _int_id(data: Mapping[str, Any], key: str) -> int:
    value = _field(data, key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(f"field '{key}' is not a non-negative integer id (got {value!r:.40})")
    return value


def _time(data: Mapping[str, Any], key: str) -> int:
    try:
        return Binance.timestamp_us(_field(data, key))
    except _Bad:
        raise
    except ValueError as exc:
        raise _Bad(f"field '{key}' {exc} (got {data[key]!r:.40})") from None


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = _field(data, key)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise _Bad(f"field '{key}' is not a boolean (got {value!r:.40})")
    return value


def _symbol(value: Any, key: str = "s") -> str:
    if not isinstance(value, str) or not _SYMBOL.match(value.upper()):
        raise _Bad(f"field '{key}' is not a symbol like BTCUSDT (got {value!r:.40})")
    return value.upper()


def _trade(market: str, symbol: str, trade_id: int, price: str, qty: str, maker: bool,
           trade_time: int, event_time: int) -> Trade:
    return Trade(venue=VENUE, market=market, symbol=symbol, trade_id=trade_id, price=price, qty=qty,
                 is_buyer_maker=maker, trade_time=trade_time, event_time=event_time, ingest_time=now_us())


# --- WebSocket -------------------------------------------------------------------------------------------


def parse_trade_event(data: Mapping[str, Any], market: str = "spot") -> Trade:
    """Spot ``<symbol>@trade`` event (``t`` is the consecutive trade id; ``b``/``a`` gone since 2024-06)::

        {"e":"trade","E":1764080000124,"s":"BTCUSDT","t":5293614470,"p":"97000.01000000",
         "q":"0.01250000","T":1764080000123,"m":true,"M":true}

    Raises ``ValueError`` naming the bad field; :func:`parse_message` turns that into a Reject.
    """
    return _trade(market, _symbol(_field(data, "s")), _int_id(data, "t"), _decimal(data, "p"),
                  _decimal(data, "q"), _flag(data, "m"), _time(data, "T"), _time(data, "E"))


def parse_agg_trade_event(data: Mapping[str, Any], market: str = "usdm") -> Trade:
    """``<symbol>@aggTrade`` event, spot or USD-M (futures has no ``M``); ``a`` is the aggregate id::

        {"e":"aggTrade","E":1764080000124,"s":"BTCUSDT","a":2783152121,"p":"96950.10","q":"0.015",
         "f":6715240123,"l":6715240125,"T":1764080000123,"m":false}
    """
    return _trade(market, _symbol(_field(data, "s")), _int_id(data, "a"), _decimal(data, "p"),
                  _decimal(data, "q"), _flag(data, "m"), _time(data, "T"), _time(data, "E"))


def unwrap_combined(message: Mapping[str, Any]) -> tuple[str | None, Any]:
    """Combined-stream wrapper → (stream name, payload); a raw-stream message comes back as (None, itself)::

        {"stream":"btcusdt@trade","data":{"e":"trade","E":1764080000124,"s":"BTCUSDT", ...}}
    """
    if "stream" in message and "data" in message:
        stream = message["stream"]
        return (stream if isinstance(stream, str) else None), message["data"]
    return None, message


def parse_control(message: Mapping[str, Any]) -> Control | None:
    """Control frames, or None when the message is not one::

        {"result":null,"id":1}                                    subscribe/unsubscribe ack
        {"error":{"code":2,"msg":"Invalid request"},"id":1}       request error
        {"code":-1121,"msg":"Invalid symbol."}                    error without id
        {"e":"serverShutdown","E":1770123456789}                  reconnect now (also inside "event"/"data")
    """
    event = message.get("event")
    if isinstance(event, Mapping) and event.get("e") == "serverShutdown":
        return Control("shutdown", f"serverShutdown at E={event.get('E')}")
    if message.get("e") == "serverShutdown":
        return Control("shutdown", f"serverShutdown at E={message.get('E')}")
    if "id" in message and "result" in message:
        return Control("ack", f"request {message.get('id')!r} acknowledged")
    if "error" in message or ("code" in message and "msg" in message and "e" not in message):
        return Control("error", orjson.dumps(message.get("error", message)).decode()[:500])
    return None


def parse_message(raw: str | bytes, market: str = "spot") -> Parsed:
    """One WebSocket frame (raw or combined stream, trade or aggTrade, or a control frame) → a record.

    Never raises: garbage comes back as a Reject whose reason names what was wrong.
    """
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _reject("frame is not valid JSON", raw)
    if not isinstance(message, dict):
        return _reject(f"frame is a JSON {type(message).__name__}, not an object", raw)
    try:
        control = parse_control(message)
        if control is not None:
            return control
        _, data = unwrap_combined(message)
        if not isinstance(data, dict):
            return _reject("field 'data' is not an object", raw)
        control = parse_control(data)
        if control is not None:
            return control
        event = data.get("e")
        if event == "trade":
            return parse_trade_event(data, market)
        if event == "aggTrade":
            return parse_agg_trade_event(data, market)
        return _reject(f"field 'e' is not a trade event (got {event!r:.40})", raw)
    except _Bad as exc:
        return _reject(str(exc), raw)
    except Exception as exc:  # a parser bug must not kill the feed: file the frame and go on
        return _reject(f"unexpected {type(exc).__name__}: {exc}", raw)


# --- REST ------------------------------------------------------------------------------------------------


def parse_rest_trade(row: Mapping[str, Any], symbol: str, market: str = "spot") -> Trade | Reject:
    """One row of ``GET /api/v3/historicalTrades`` (or ``/api/v3/trades``; ``fapi`` has no ``isBestMatch``)::

        {"id":5293614470,"price":"97000.01000000","qty":"0.01250000","quoteQty":"1212.50012500",
         "time":1764080000123,"isBuyerMaker":true,"isBestMatch":true}

    REST has no event time, so ``event_time`` is the trade time.
    """
    try:
        trade_time = _time(row, "time")
        return _trade(market, _symbol(symbol, "symbol"), _int_id(row, "id"), _decimal(row, "price"),
                      _decimal(row, "qty"), _flag(row, "isBuyerMaker"), trade_time, trade_time)
    except (_Bad, TypeError) as exc:
        return _reject(str(exc), _dump(row))


def parse_rest_agg_trade(row: Mapping[str, Any], symbol: str, market: str = "usdm") -> Trade | Reject:
    """One row of ``GET /api/v3/aggTrades`` or ``GET /fapi/v1/aggTrades`` (futures: no ``M``)::

        {"a":2783152121,"p":"96950.10","q":"0.015","f":6715240123,"l":6715240125,"T":1764080000123,
         "m":false,"M":true}
    """
    try:
        trade_time = _time(row, "T")
        return _trade(market, _symbol(symbol, "symbol"), _int_id(row, "a"), _decimal(row, "p"),
                      _decimal(row, "q"), _flag(row, "m"), trade_time, trade_time)
    except (_Bad, TypeError) as exc:
        return _reject(str(exc), _dump(row))


def _dump(row: Any) -> str:
    try:
        return orjson.dumps(row).decode()
    except TypeError:
        return repr(row)


# --- Public data dumps (data.binance.vision) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DumpFormat:
    """Column layout of one dump kind; indices into the CSV row."""

    kind: Literal["trades", "aggTrades"]
    columns: int
    id_col: int
    price_col: int
    qty_col: int
    time_col: int
    maker_col: int
    first_col: int | None = None  # aggTrades: first/last trade id (invalidated rows have -1)
    last_col: int | None = None


SPOT_TRADES = DumpFormat("trades", 7, 0, 1, 2, 4, 5)  # id,price,qty,quote_qty,time,is_buyer_maker,is_best_match
USDM_TRADES = DumpFormat("trades", 6, 0, 1, 2, 4, 5)  # id,price,qty,quote_qty,time,is_buyer_maker
SPOT_AGG_TRADES = DumpFormat("aggTrades", 8, 0, 1, 2, 5, 6, 3, 4)  # agg_trade_id,price,qty,first,last,time,m,M
USDM_AGG_TRADES = DumpFormat("aggTrades", 7, 0, 1, 2, 5, 6, 3, 4)  # same without is_best_match

_DUMP_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]{2,20})-(?P<kind>trades|aggTrades)-")


def dump_name_info(filename: str) -> tuple[str | None, str | None]:
    """``BTCUSDT-aggTrades-2025-01-01.zip`` → ("BTCUSDT", "aggTrades"); unknown parts are None."""
    match = _DUMP_NAME.match(filename)
    return (match["symbol"], match["kind"]) if match else (None, None)


def is_header(fields: Sequence[str]) -> bool:
    """USD-M dumps start with a header row (``agg_trade_id,price,quantity,...``); spot dumps do not."""
    return bool(fields) and not fields[0].strip().lstrip("-").isdigit() and "id" in fields[0].lower()


def detect_dump_format(fields: Sequence[str], kind: str | None = None, header: bool = False) -> DumpFormat | None:
    """Pick the layout from the column count, the header (first column name) and the kind from the file name.

    7 columns is ambiguous (spot trades or USD-M aggTrades): the header or the file name decides, and a
    headerless 7-column file is spot trades, the only headerless 7-column layout.
    """
    n = len(fields)
    if header and fields:
        kind = "aggTrades" if "agg" in fields[0].lower() else "trades"
    if kind is None:
        kind = {6: "trades", 7: "trades", 8: "aggTrades"}.get(n)
    if kind == "trades":
        return {7: SPOT_TRADES, 6: USDM_TRADES}.get(n)
    if kind == "aggTrades":
        return {8: SPOT_AGG_TRADES, 7: USDM_AGG_TRADES}.get(n)
    return None


def parse_dump_row(fields: Sequence[str], fmt: DumpFormat, symbol: str, market: str = "spot",
                   raw: str | None = None) -> Trade | Reject | None:
    """One CSV row of a public data dump → Trade, Reject, or None for an invalidated aggTrades row.

    Spot trades (no header; µs from 2025-01-01, ms before)::

        5293614470,97000.01000000,0.01250000,1212.50012500,1735689600123456,True,True

    Spot aggTrades (no header)::

        2783152121,96950.10000000,0.01500000,6715240123,6715240125,1735689600123456,False,True

    USD-M aggTrades (header row, ms, no is_best_match)::

        agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker
        2783152121,96950.10,0.015,6715240123,6715240125,1735689600123,false

    Invalidated aggTrades rows (``price=0, qty=0, first=last=-1``) are skipped (None), as Binance intends.
    Dumps carry no event time: ``event_time`` is the trade time.
    """
    text = raw if raw is not None else ",".join(fields)
    if len(fields) != fmt.columns:
        return _reject(f"dump row has {len(fields)} columns, expected {fmt.columns} ({fmt.kind})", text)
    if fmt.first_col is not None and fmt.last_col is not None and _invalidated(fields, fmt):
        return None
    names = ("id", "price", "qty", "time", "is_buyer_maker")
    cols = (fmt.id_col, fmt.price_col, fmt.qty_col, fmt.time_col, fmt.maker_col)
    row = {name: fields[col].strip() for name, col in zip(names, cols, strict=True)}
    try:
        trade_time = _time(row, "time")
        return _trade(market, _symbol(symbol, "symbol"), _int_id(row, "id"), _decimal(row, "price"),
                      _decimal(row, "qty"), _flag(row, "is_buyer_maker"), trade_time, trade_time)
    except _Bad as exc:
        return _reject(f"dump {exc}", text)


def _invalidated(fields: Sequence[str], fmt: DumpFormat) -> bool:
    assert fmt.first_col is not None and fmt.last_col is not None
    return fields[fmt.first_col].strip() == "-1" and fields[fmt.last_col].strip() == "-1" and all(
        not _NONZERO.search(fields[c]) for c in (fmt.price_col, fmt.qty_col)
    )
