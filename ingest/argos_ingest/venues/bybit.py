"""Bybit v5: the facts and pure parsers of ``publicTrade.{symbol}`` (spot and linear perpetuals) and its dumps.

Guarantee: **no gap detection.** The trade id ``i`` is opaque: linear trades carry a UUID, spot a large
number with no documented contiguity, and ``seq`` (where sent) is the matching engine's cross sequence,
shared with other events, so a missing trade leaves no mark. Bybit's REST history
(``GET /v5/market/recent-trade``) returns only the latest trades (spot ≤ 60, linear ≤ 1000) with no cursor,
so nothing could be fetched by id anyway. What Argos does: de-duplicates by id (a UUID is hashed to a stable
63-bit id), counts reconnects (each one is a window where trades may have been missed), and replays Bybit's
daily trade files (https://public.bybit.com/trading/) — the complete record — after the fact.

The client must send ``{"op":"ping"}`` (we send it every 20 s, as the docs recommend); the server answers
``{"op":"pong",...}`` (linear) or ``{"success":true,"ret_msg":"pong","op":"ping",...}`` (spot). A spot
subscribe request takes at most 10 args.

Sources: https://bybit-exchange.github.io/docs/v5/ws/connect (endpoints per category, heartbeat),
https://bybit-exchange.github.io/docs/v5/websocket/public/trade (payload; ``S`` is the taker side, ``i`` the
trade id, ``BT`` block trade, ``seq`` cross sequence; up to 1024 trades per message),
https://bybit-exchange.github.io/docs/v5/market/recent-trade (REST limits). The endpoints and payload
shapes were confirmed through the project's search of the docs; the 20 s ping and the 10-arg cap are as the
connect page states them and not re-checked here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

from argos.contract import Reject, Trade
from argos_ingest.venues.base import AppPing, BackfillRequest, Control, Parsed
from argos_ingest.venues.fields import BadField, decimal, epoch_ms_us, field, native_symbol, one_of, reject, string_id
from argos_ingest.venues.instruments import Instrument, make_trade, split_pair

VENUE = "bybit"
BybitCategory = Literal["spot", "linear"]


class Bybit:
    """Bybit v5 public market-data facts Argos relies on."""

    WS: ClassVar[dict[str, str]] = {
        "spot": "wss://stream.bybit.com/v5/public/spot",
        "linear": "wss://stream.bybit.com/v5/public/linear",
    }
    REST: ClassVar[str] = "https://api.bybit.com"
    RECENT_TRADES: ClassVar[str] = "/v5/market/recent-trade"
    RECENT_TRADES_LIMIT: ClassVar[dict[str, int]] = {"spot": 60, "linear": 1000}
    TOPIC: ClassVar[str] = "publicTrade"
    PING: ClassVar[AppPing] = AppPing(message='{"op":"ping"}', interval_seconds=20.0)
    SPOT_ARGS_PER_SUBSCRIBE: ClassVar[int] = 10
    MAX_TRADES_PER_MESSAGE: ClassVar[int] = 1024
    DUMPS: ClassVar[dict[str, str]] = {  # daily CSV.gz: <symbol>/<symbol><date>.csv.gz (linear), spot with '_'
        "linear": "https://public.bybit.com/trading/", "spot": "https://public.bybit.com/spot/",
    }
    # Not a documented cap: symbols per connection we choose.
    SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    TAKER_SIDE_IS_SELL: ClassVar[dict[str, bool]] = {"Buy": False, "Sell": True}  # S is the taker's side


def instrument(symbol: str, category: str) -> Instrument:
    """``BTCUSDT`` spot, or a linear perpetual (qty in base coin, so no contract size)."""
    base, quote = split_pair(symbol)
    if category == "spot":
        return Instrument(VENUE, "spot", symbol, base, quote, "spot")
    return Instrument(VENUE, "linear", symbol, base, quote, "perpetual")


def bybit_symbol(pair: str) -> str:
    """A pair in any spelling → Bybit's symbol (``BTC-USDT`` → ``BTCUSDT``)."""
    base, quote = split_pair(pair)
    return f"{base}{quote}"


def _trade(data: Mapping[str, Any], category: str, event_time: int | None) -> Trade:
    symbol = native_symbol(field(data, "s"), "s")
    trade_time = epoch_ms_us(data, "T")
    return make_trade(instrument(symbol, category), string_id(data, "i"), decimal(data, "p"), decimal(data, "v"),
                      one_of(data, "S", Bybit.TAKER_SIDE_IS_SELL), trade_time, event_time or trade_time)


def parse_public_trade(message: Mapping[str, Any], category: str, raw: str | bytes) -> list[Parsed]:
    """A ``publicTrade.{symbol}`` push, one record per element of ``data`` (sorted by match time)::

        {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,
         "data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick",
                  "i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617}]}

    ``ts`` (when Bybit sent it) is the event time.
    """
    event_time = epoch_ms_us(message, "ts")
    data = field(message, "data")
    if not isinstance(data, list) or not data:
        raise BadField("field 'data' is not a non-empty list")
    out: list[Parsed] = []
    for item in data:
        try:
            if not isinstance(item, dict):
                raise BadField("a 'data' element is not an object")
            out.append(_trade(item, category, event_time))
        except (BadField, ValueError) as exc:
            out.append(reject(VENUE, str(exc), item if len(data) > 1 else raw))
    return out


def parse_control(message: Mapping[str, Any]) -> Control | None:
    """Non-trade frames::

        {"success":true,"ret_msg":"subscribe","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","op":"subscribe"}
        {"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}   spot
        {"op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocsvfriu23r3er0-1b"}                       linear
        {"success":false,"ret_msg":"error:handler not found","conn_id":"...","op":"subscribe"}
    """
    op = message.get("op")
    if op is None or "topic" in message:
        return None
    if message.get("success") is False:
        return Control("error", orjson.dumps(message).decode()[:500])
    return Control("ack", f"{op} {str(message.get('ret_msg', ''))[:100]}")


def parse_message(raw: str | bytes, category: str) -> Parsed | list[Parsed]:
    """One WebSocket frame → trades, a Control frame or a Reject naming what was wrong; never raises."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return reject(VENUE, "frame is not valid JSON", raw)
    if not isinstance(message, dict):
        return reject(VENUE, f"frame is a JSON {type(message).__name__}, not an object", raw)
    try:
        control = parse_control(message)
        if control is not None:
            return control
        topic = message.get("topic")
        if not isinstance(topic, str) or not topic.startswith(Bybit.TOPIC + "."):
            return reject(VENUE, f"field 'topic' is not a publicTrade topic (got {topic!r:.40})", raw)
        return parse_public_trade(message, category, raw)
    except BadField as exc:
        return reject(VENUE, str(exc), raw)
    except Exception as exc:  # a parser bug must not kill the feed
        return reject(VENUE, f"unexpected {type(exc).__name__}: {exc}", raw)


def parse_dump_row(row: Mapping[str, str], category: str) -> Trade | Reject:
    """One row of a daily file from public.bybit.com (header row; the linear files use seconds with a fraction)::

        timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional
        1704067200.0893,BTCUSDT,Sell,0.001,42314.00,ZeroMinusTick,b7a0c7b1-5a4b-5d8e-9d1a-9c2a0a7e4c11,...
    """
    try:
        seconds = field(row, "timestamp")
        whole, _, fraction = str(seconds).partition(".")
        if not whole.isdigit() or (fraction and not fraction.isdigit()):
            raise BadField(f"field 'timestamp' is not epoch seconds (got {seconds!r:.40})")
        if len(whole) >= 13:  # the spot files use epoch milliseconds
            trade_time = int(whole) * 1_000
        else:
            trade_time = int(whole) * 1_000_000 + int(fraction[:6].ljust(6, "0") or 0)
        data = {"s": field(row, "symbol"), "S": field(row, "side"), "v": field(row, "size"),
                "p": field(row, "price"), "i": row.get("trdMatchID") or row.get("id") or "", "T": 0}
        symbol = native_symbol(data["s"], "symbol")
        return make_trade(instrument(symbol, category), string_id(data, "i"), decimal(data, "p"),
                          decimal(data, "v"), one_of(data, "S", Bybit.TAKER_SIDE_IS_SELL), trade_time, trade_time)
    except (BadField, ValueError) as exc:
        return reject(VENUE, str(exc), dict(row))


@dataclass(frozen=True, slots=True)
class BybitMarket:
    """One Bybit category (``spot`` or ``linear``) bound to its endpoints: the live loop's ``VenueMarket``."""

    market: BybitCategory = "spot"
    ws_url: str = ""
    rest_url: str = Bybit.REST
    symbols: tuple[str, ...] = ()

    venue: ClassVar[str] = VENUE
    consecutive_ids: ClassVar[bool] = False  # opaque ids: de-duplicated, never gap-checked
    backfill_limit: ClassVar[int] = 1
    max_symbols_per_connection: ClassVar[int] = Bybit.SYMBOLS_PER_CONNECTION
    app_ping: ClassVar[AppPing] = Bybit.PING

    def stream_url(self, symbols: Sequence[str]) -> str:
        return self.ws_url or Bybit.WS[self.market]

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """``{"op":"subscribe","args":["publicTrade.BTCUSDT", ...]}``, 10 args per request (spot's cap)."""
        topics = [self.stream_name(s) for s in symbols]
        step = Bybit.SPOT_ARGS_PER_SUBSCRIBE
        return [orjson.dumps({"op": "subscribe", "args": topics[i : i + step]}).decode()
                for i in range(0, len(topics), step)]

    def stream_name(self, symbol: str) -> str:
        return f"{Bybit.TOPIC}.{symbol}"

    def parse(self, frame: str | bytes) -> Parsed | list[Parsed]:
        return parse_message(frame, self.market)

    def backfill_request(self, symbol: str, from_id: int, limit: int) -> BackfillRequest:
        raise NotImplementedError("Bybit trade ids are opaque: there is no gap to backfill by id")

    def parse_backfill(self, row: Any, symbol: str) -> Trade | Reject:
        return reject(VENUE, "Bybit has no backfill by id", row)

    def instrument(self, symbol: str) -> Instrument:
        return instrument(symbol, self.market)

    def native_symbol(self, pair: str) -> str:
        return bybit_symbol(pair)
