"""OKX v5: the facts and pure parsers of the public ``trades`` channel (spot and swaps) and the REST history.

Guarantee: ``tradeId`` counts up by one per instrument. One ``trades`` push may aggregate several fills of one
taker order at one price: ``tradeId`` is then the *last* fill's id and ``count`` the number of fills, so the
record covers ids ``tradeId-count+1 .. tradeId`` (:meth:`OkxMarket.first_id` tells the sequencer). A skipped
id is a gap, backfilled from ``GET /api/v5/market/history-trades`` paged by trade id (``type=1``, ``after``
returns older ids, newest first, at most 100 per call). OKX closes a connection that has been silent for 30 s:
the client sends the text ``ping`` every 20 s and the server answers ``pong``. A ``notice`` event (code 64008)
announces a service upgrade: reconnect, make-before-break.

Swap ``sz`` counts contracts: the record keeps it as ``qty`` with the contract value (``ctVal`` of
``GET /api/v5/public/instruments``) as ``contract_size``; USD-margined (inverse) swaps are in USD per contract.

Sources: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel (push fields, ``count``),
https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-trades-history (``type``, ``after``, limit 100,
20 requests per 2 s), https://www.okx.com/docs-v5/en/#overview-websocket-connect (30 s idle cut, ``ping``/
``pong``; 3 connection requests/s per IP; 480 subscribe requests per hour per connection; 64 KB of args) —
the last was confirmed through secondary summaries of the docs found by the project's search, the rest are as
documented at those anchors and not re-checked here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

from argos.contract import Reject, Trade
from argos_ingest.venues.base import AppPing, BackfillRequest, Control, Parsed
from argos_ingest.venues.fields import BadField, decimal, epoch_ms_us, field, int_id, native_symbol, one_of, reject
from argos_ingest.venues.instruments import Instrument, make_trade, split_pair, trade_count

VENUE = "okx"
OkxMarketName = Literal["spot", "swap"]


class Okx:
    """OKX v5 public market-data facts Argos relies on."""

    WS_PUBLIC: ClassVar[str] = "wss://ws.okx.com:8443/ws/v5/public"
    REST: ClassVar[str] = "https://www.okx.com"
    HISTORY_TRADES: ClassVar[str] = "/api/v5/market/history-trades"
    CHANNEL: ClassVar[str] = "trades"
    REST_MAX_LIMIT: ClassVar[int] = 100
    REST_REQUESTS_PER_2S: ClassVar[int] = 20
    IDLE_CUT_SECONDS: ClassVar[float] = 30.0
    PING: ClassVar[AppPing] = AppPing(message="ping", interval_seconds=20.0)
    SUBSCRIBES_PER_HOUR: ClassVar[int] = 480
    UPGRADE_NOTICE_CODE: ClassVar[str] = "64008"
    # Not a documented cap: instruments per connection we choose (args must stay under 64 KB anyway).
    INSTRUMENTS_PER_CONNECTION: ClassVar[int] = 100
    TAKER_SIDE_IS_SELL: ClassVar[dict[str, bool]] = {"buy": False, "sell": True}  # side is the taker's
    # ctVal of the swaps Argos knows (GET /api/v5/public/instruments?instType=SWAP); base units per contract,
    # quote (USD) units for the inverse -USD-SWAP ones. Add a line to stream another swap.
    CONTRACT_SIZES: ClassVar[dict[str, str]] = {
        "BTC-USDT-SWAP": "0.01", "ETH-USDT-SWAP": "0.1", "SOL-USDT-SWAP": "1", "XRP-USDT-SWAP": "100",
        "DOGE-USDT-SWAP": "1000", "BTC-USD-SWAP": "100", "ETH-USD-SWAP": "10",
    }


def instrument(symbol: str) -> Instrument:
    """``BTC-USDT`` spot, ``BTC-USDT-SWAP`` linear perpetual, ``BTC-USD-SWAP`` inverse, ``BTC-USDT-250627`` future."""
    parts = symbol.split("-")
    if len(parts) == 2:
        return Instrument(VENUE, "spot", symbol, parts[0], parts[1], "spot")
    if len(parts) != 3:
        raise ValueError(f"{symbol!r} is not an OKX instrument id like BTC-USDT or BTC-USDT-SWAP")
    base, quote, tail = parts
    kind = "perpetual" if tail == "SWAP" else "future"
    size = Okx.CONTRACT_SIZES.get(symbol)
    if size is None:
        raise ValueError(f"contract size of {symbol} is unknown; add its ctVal to Okx.CONTRACT_SIZES")
    return Instrument(VENUE, "swap", symbol, base, quote, kind, contract_size=size, inverse=quote == "USD")


def inst_id(pair: str, market: str) -> str:
    """A pair in any spelling → OKX's instId on ``market`` (``BTCUSDT`` → ``BTC-USDT`` / ``BTC-USDT-SWAP``)."""
    if pair.count("-") >= 2:
        return pair
    base, quote = split_pair(pair)
    return f"{base}-{quote}" + ("-SWAP" if market == "swap" else "")


def _trade(data: Mapping[str, Any], symbol: str, event_time: int | None) -> Trade:
    instr = instrument(native_symbol(symbol, "instId"))
    last = int_id(data, "tradeId")
    count = int_id(data, "count") if "count" in data else 1
    if not 1 <= count <= last + 1:
        raise BadField(f"field 'count' is not a fill count of tradeId {last} (got {count})")
    trade_time = epoch_ms_us(data, "ts")
    return make_trade(instr, last, decimal(data, "px"), decimal(data, "sz"),
                      one_of(data, "side", Okx.TAKER_SIDE_IS_SELL), trade_time, event_time or trade_time,
                      first_id=last - count + 1, last_id=last, count=count)


def parse_trades_push(message: Mapping[str, Any], raw: str | bytes) -> list[Parsed]:
    """A ``trades`` push, one record per element of ``data`` (a bad element becomes a Reject of its own)::

        {"arg":{"channel":"trades","instId":"BTC-USDT"},
         "data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy",
                  "ts":"1630048897897","count":"3","source":"0","seqId":1234}]}

    ``side`` is the taker's. The push has no send time, so ``event_time`` is the trade time.
    """
    data = field(message, "data")
    if not isinstance(data, list) or not data:
        raise BadField("field 'data' is not a non-empty list")
    out: list[Parsed] = []
    for item in data:
        try:
            if not isinstance(item, dict):
                raise BadField("a 'data' element is not an object")
            out.append(_trade(item, field(item, "instId"), None))
        except (BadField, ValueError) as exc:
            out.append(reject(VENUE, str(exc), item if len(data) > 1 else raw))
    return out


def parse_control(message: Mapping[str, Any]) -> Control | None:
    """Non-trade frames::

        {"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"accb8e21"}   ack
        {"event":"error","code":"60012","msg":"Invalid request: {...}","connId":"a4d3ae55"}
        {"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade..."}
    """
    event = message.get("event")
    if event in ("subscribe", "unsubscribe"):
        return Control("ack", f"{event} {orjson.dumps(message.get('arg')).decode()[:200]}")
    if event == "notice" and str(message.get("code")) == Okx.UPGRADE_NOTICE_CODE:
        return Control("shutdown", f"notice {message.get('code')}: {str(message.get('msg'))[:200]}")
    if event in ("error", "notice"):
        return Control("error", orjson.dumps(message).decode()[:500])
    return None


def parse_message(raw: str | bytes) -> Parsed | list[Parsed]:
    """One WebSocket frame → trades, a Control frame (``pong`` too) or a Reject; never raises."""
    if raw in ("pong", b"pong"):
        return Control("ack", "pong")
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
        arg = message.get("arg")
        if not isinstance(arg, dict) or arg.get("channel") != Okx.CHANNEL:
            return reject(VENUE, f"frame is not a trades push (arg {arg!r:.60})", raw)
        return parse_trades_push(message, raw)
    except BadField as exc:
        return reject(VENUE, str(exc), raw)
    except Exception as exc:  # a parser bug must not kill the feed
        return reject(VENUE, f"unexpected {type(exc).__name__}: {exc}", raw)


def parse_rest_trade(row: Any, symbol: str) -> Trade | Reject:
    """One element of ``data`` in ``GET /api/v5/market/history-trades?instId=BTC-USDT&type=1&after=…``::

        {"instId":"BTC-USDT","side":"sell","sz":"0.00001","px":"29963.2","source":"0","tradeId":"242720720",
         "ts":"1654161646974"}
    """
    if not isinstance(row, dict):
        return reject(VENUE, "REST row is not an object", row)
    try:
        return _trade(row, symbol, None)
    except (BadField, ValueError) as exc:
        return reject(VENUE, str(exc), row)


def rest_rows(payload: Any) -> list[Any] | None:
    """``{"code":"0","msg":"","data":[...]}`` → the rows; None for an error answer."""
    if isinstance(payload, dict) and str(payload.get("code")) == "0" and isinstance(payload.get("data"), list):
        return payload["data"]
    return None


@dataclass(frozen=True, slots=True)
class OkxMarket:
    """One OKX market (``spot`` or ``swap``) bound to its endpoints: the live loop's ``VenueMarket``."""

    market: OkxMarketName = "spot"
    ws_url: str = Okx.WS_PUBLIC
    rest_url: str = Okx.REST
    symbols: tuple[str, ...] = ()

    venue: ClassVar[str] = VENUE
    consecutive_ids: ClassVar[bool] = True
    backfill_limit: ClassVar[int] = Okx.REST_MAX_LIMIT
    max_symbols_per_connection: ClassVar[int] = Okx.INSTRUMENTS_PER_CONNECTION
    app_ping: ClassVar[AppPing] = Okx.PING

    def stream_url(self, symbols: Sequence[str]) -> str:
        return self.ws_url

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """``{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}, ...]}``."""
        args = [{"channel": Okx.CHANNEL, "instId": s} for s in symbols]
        return [orjson.dumps({"op": "subscribe", "args": args}).decode()]

    def stream_name(self, symbol: str) -> str:
        return f"{Okx.CHANNEL}:{symbol}"

    def parse(self, frame: str | bytes) -> Parsed | list[Parsed]:
        return parse_message(frame)

    def first_id(self, trade: Trade) -> int:
        """The first fill id an aggregated push covers."""
        return trade.trade_id - trade_count(trade) + 1

    def backfill_request(self, symbol: str, from_id: int, limit: int) -> BackfillRequest:
        """Ids ``from_id .. from_id+limit-1`` (``limit`` ≤ 100): ``after`` is exclusive, newest first."""
        return BackfillRequest(f"{self.rest_url.rstrip('/')}{Okx.HISTORY_TRADES}",
                               {"instId": symbol, "type": "1", "after": str(from_id + limit), "limit": str(limit)})

    def backfill_rows(self, payload: Any) -> list[Any] | None:
        return rest_rows(payload)

    def parse_backfill(self, row: Any, symbol: str) -> Trade | Reject:
        return parse_rest_trade(row, symbol)

    def instrument(self, symbol: str) -> Instrument:
        return instrument(symbol)

    def native_symbol(self, pair: str) -> str:
        return inst_id(pair, self.market)
