"""Binance: the exchange facts and pure parse functions, from raw payloads to ``argos.contract`` records.

Everything Binance-specific lives here (cryptofeed-style venue isolation): endpoints, stream names and
limits as declarative data at the top, then one small parser per payload shape, each with the raw payload
it parses in its docstring. The parsers never raise: whatever cannot become a :class:`Trade` comes back as
a :class:`Reject` that names the field, so it reaches the dead letters instead of vanishing. The
connection loop that uses them (reconnect, pings, backfill) is venue-agnostic: ``argos_ingest.feed`` drives
a :class:`BinanceMarket` through the ``VenueMarket`` interface. Dump files: ``binance_dumps``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

from argos.contract import Reject, Trade, now_us
from argos.settings import IngestSettings
from argos_ingest.venues.base import BackfillRequest, Control, Parsed
from argos_ingest.venues.binance_instruments import SYMBOL, instrument

VENUE = "binance"

_DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?$")
_NONZERO = re.compile(r"[1-9]")
_RAW_LIMIT = 64 * 1024  # keep dead letters bounded even when a frame is huge


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """How one Binance market streams trades and how its history is fetched by id."""

    market: Literal["spot", "usdm", "coinm"]
    stream: str  # stream suffix: <symbol>@<stream>
    event: str  # the "e" field of that stream's events
    id_field: str  # the event field that carries the consecutive id
    combined_path: str  # appended to the WS base from settings
    backfill_path: str  # REST endpoint that pages that id by fromId
    max_streams: int
    max_incoming_per_second: int
    server_ping_seconds: float
    # The host's REQUEST_WEIGHT limit a minute per IP, as its exchangeInfo's rateLimits list it: spot 6,000; fapi
    # and dapi 2,400 (binance-docs.github.io/apidocs/futures/en/#limits and .../delivery/en/#limits).
    rest_weight_per_minute: int

    def ws_base(self, settings: IngestSettings) -> str:
        return {"spot": settings.binance_ws_url, "usdm": settings.binance_futures_ws_url,
                "coinm": settings.binance_coinm_ws_url}[self.market]

    def rest_base(self, settings: IngestSettings) -> str:
        return {"spot": settings.binance_rest_url, "usdm": settings.binance_futures_rest_url,
                "coinm": settings.binance_coinm_rest_url}[self.market]

    def stream_name(self, symbol: str) -> str:
        return f"{symbol.lower()}@{self.stream}"


class Binance:
    """Binance facts Argos relies on (see shared/binance-protocol.md)."""

    SPOT_WS: ClassVar[str] = "wss://stream.binance.com:9443"
    SPOT_REST: ClassVar[str] = "https://api.binance.com"
    USDM_WS: ClassVar[str] = "wss://fstream.binance.com/market"  # /ws and /stream at the root stay silent
    USDM_REST: ClassVar[str] = "https://fapi.binance.com"
    # Coin-M (inverse) futures: streams on dstream (/ws, /stream), REST under /dapi/v1 (same aggTrade shape);
    # https://developers.binance.com/docs/derivatives/coin-margined-futures (formerly apidocs/delivery).
    COINM_WS: ClassVar[str] = "wss://dstream.binance.com"
    COINM_REST: ClassVar[str] = "https://dapi.binance.com"

    REST_MAX_LIMIT: ClassVar[int] = 1000
    MICROSECOND_PARAM: ClassVar[str] = "timeUnit=MICROSECOND"
    MICROSECOND_HEADER: ClassVar[dict[str, str]] = {"X-MBX-TIME-UNIT": "MICROSECOND"}  # spot REST, the same switch

    SPOT: ClassVar[MarketSpec] = MarketSpec(
        market="spot", stream="trade", event="trade", id_field="t", combined_path="/stream",
        backfill_path="/api/v3/historicalTrades", max_streams=1024, max_incoming_per_second=5,
        server_ping_seconds=20, rest_weight_per_minute=6_000,
    )
    USDM: ClassVar[MarketSpec] = MarketSpec(
        market="usdm", stream="aggTrade", event="aggTrade", id_field="a", combined_path="/stream",
        backfill_path="/fapi/v1/aggTrades", max_streams=1024, max_incoming_per_second=10,
        server_ping_seconds=180, rest_weight_per_minute=2_400,
    )
    COINM: ClassVar[MarketSpec] = MarketSpec(
        market="coinm", stream="aggTrade", event="aggTrade", id_field="a", combined_path="/stream",
        backfill_path="/dapi/v1/aggTrades", max_streams=200, max_incoming_per_second=10,
        server_ping_seconds=180, rest_weight_per_minute=2_400,
    )

    # Epoch magnitudes: 1e14 ms is the year 5138 and 1e14 µs is 1973, so the digit count tells the unit.
    _MICROS_FROM: ClassVar[int] = 10**14
    _NANOS_FROM: ClassVar[int] = 10**17

    @classmethod
    def market(cls, market: str) -> MarketSpec:
        if market not in ("spot", "usdm", "coinm"):
            raise ValueError(f"unknown Binance market {market!r}; use 'spot', 'usdm' or 'coinm'")
        return {"spot": cls.SPOT, "usdm": cls.USDM, "coinm": cls.COINM}[market]

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
class BinanceMarket:
    """One Binance market bound to its endpoints: the live loop's ``VenueMarket``."""

    spec: MarketSpec
    ws_base: str
    rest_base: str
    microsecond_timestamps: bool = True  # spot streams µs with timeUnit=MICROSECOND; futures have only ms

    venue: ClassVar[str] = VENUE
    consecutive_ids: ClassVar[bool] = True  # trade ids (spot) and aggregate ids (futures) count up by one
    backfill_limit: ClassVar[int] = Binance.REST_MAX_LIMIT

    @classmethod
    def from_settings(cls, settings: IngestSettings, market: str) -> BinanceMarket:
        spec = Binance.market(market)
        return cls(spec, spec.ws_base(settings), spec.rest_base(settings))

    @property
    def market(self) -> str:
        return self.spec.market

    @property
    def max_symbols_per_connection(self) -> int:
        return self.spec.max_streams

    def stream_url(self, symbols: Sequence[str]) -> str:
        """``<base>/stream?streams=btcusdt@trade/ethusdt@trade`` (one connection, N symbols)."""
        streams = "/".join(self.spec.stream_name(s) for s in symbols)
        url = f"{self.ws_base.rstrip('/')}{self.spec.combined_path}?streams={streams}"
        if self.microsecond_timestamps and self.market == "spot":
            url += f"&{Binance.MICROSECOND_PARAM}"
        return url

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return []  # the combined-stream URL subscribes

    def stream_name(self, symbol: str) -> str:
        return self.spec.stream_name(symbol)

    def parse(self, frame: str | bytes) -> Parsed:
        return parse_message(frame, self.market)

    @property
    def rest_weight_per_minute(self) -> int:
        return self.spec.rest_weight_per_minute

    def backfill_request(self, symbol: str, from_id: int, limit: int) -> BackfillRequest:
        """Spot asks for µs times, as its stream does, so a backfilled trade's time equals its live copy's."""
        micro = self.microsecond_timestamps and self.market == "spot"
        return BackfillRequest(f"{self.rest_base.rstrip('/')}{self.spec.backfill_path}",
                               {"symbol": symbol, "fromId": str(from_id), "limit": str(limit)},
                               dict(Binance.MICROSECOND_HEADER) if micro else {})

    def parse_backfill(self, row: Any, symbol: str) -> Trade | Reject:
        if not isinstance(row, dict):
            return _reject("REST row is not an object", _dump(row))
        parse = parse_rest_trade if self.spec.event == "trade" else parse_rest_agg_trade
        return parse(row, symbol, self.market)


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
    if not isinstance(value, str) or not SYMBOL.match(value.upper()):
        raise _Bad(f"field '{key}' is not a symbol like BTCUSDT or BTCUSD_PERP (got {value!r:.40})")
    return value.upper()


def _trade_range(data: Mapping[str, Any], first_key: str, last_key: str) -> tuple[int, int]:
    """An aggTrade's exchange-trade range ``f``..``l``; last below first is refused (the count would be < 1)."""
    first, last = _int_id(data, first_key), _int_id(data, last_key)
    if last < first:
        raise _Bad(f"field '{last_key}' ({last}) is below '{first_key}' ({first})")
    return first, last


def _trade(market: str, symbol: str, trade_id: int, price: str, qty: str, maker: bool,
           trade_time: int, event_time: int, trade_range: tuple[int, int] | None = None) -> Trade:
    """A contract v2 trade with the symbol's instrument; ``trade_range`` (first, last) for an aggTrade."""
    try:
        inst = instrument(symbol, market)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    first, last = trade_range if trade_range else (None, None)
    return Trade(venue=VENUE, market=market, symbol=symbol, trade_id=trade_id, price=price, qty=qty,
                 is_buyer_maker=maker, trade_time=trade_time, event_time=event_time, ingest_time=now_us(),
                 base=inst.base, quote_asset=inst.quote_asset, kind=inst.kind, contract_size=inst.contract_size,
                 inverse=inst.inverse, first_trade_id=first, last_trade_id=last,
                 trade_count=last - first + 1 if trade_range else 1)


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
    """``<symbol>@aggTrade`` event, spot, USD-M or coin-M (futures have no ``M``); ``a`` is the aggregate id,
    ``f``..``l`` the exchange trades it aggregates (``trade_count = l - f + 1``)::

        {"e":"aggTrade","E":1764080000124,"s":"BTCUSDT","a":2783152121,"p":"96950.10","q":"0.015",
         "f":6715240123,"l":6715240125,"T":1764080000123,"m":false}

    Coin-M (``dstream``; ``q`` counts contracts of 100 USD for BTC, 10 USD for others)::

        {"e":"aggTrade","E":1591261134288,"a":424951,"s":"BTCUSD_200626","p":"9643.5","q":"2",
         "f":606073,"l":606073,"T":1591261134199,"m":false}
    """
    return _trade(market, _symbol(_field(data, "s")), _int_id(data, "a"), _decimal(data, "p"),
                  _decimal(data, "q"), _flag(data, "m"), _time(data, "T"), _time(data, "E"),
                  _trade_range(data, "f", "l"))


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
    """One row of ``GET /api/v3/aggTrades``, ``/fapi/v1/aggTrades`` or ``/dapi/v1/aggTrades`` (futures: no ``M``)::

        {"a":2783152121,"p":"96950.10","q":"0.015","f":6715240123,"l":6715240125,"T":1764080000123,
         "m":false,"M":true}
    """
    try:
        trade_time = _time(row, "T")
        return _trade(market, _symbol(symbol, "symbol"), _int_id(row, "a"), _decimal(row, "p"),
                      _decimal(row, "q"), _flag(row, "m"), trade_time, trade_time, _trade_range(row, "f", "l"))
    except (_Bad, TypeError) as exc:
        return _reject(str(exc), _dump(row))


def _dump(row: Any) -> str:
    try:
        return orjson.dumps(row).decode()
    except TypeError:
        return repr(row)
