"""Coinbase Exchange: the facts and pure parsers of the public ``matches`` channel and the REST trade history.

Guarantee: ``trade_id`` counts up by one per product, so a skipped id is a gap; the REST trades endpoint pages
by trade id (``after=<id>`` returns older trades, newest first), so a gap is backfilled exactly. Coinbase
publishes no historical trade files, so there is no replay for it.

Sources (checked 2026-11 through the project's search of the docs):

* WebSocket feed, channels and the ``match`` message: https://docs.cdp.coinbase.com/exchange/websocket-feed/channels
  (the ``heartbeat`` channel carries ``last_trade_id`` "to verify that no messages were missed").
* Subscribe within 5 s or be disconnected: https://docs.cdp.coinbase.com/exchange/websocket-feed/overview
* ``GET /products/{product_id}/trades``; ``side`` is the *maker* order's side:
  https://docs.cdp.coinbase.com/api-reference/exchange-api/rest-api/products/get-product-trades
* Cursor pagination (``before`` newer, ``after`` older, ``limit`` ≤ 1000):
  https://docs.cdp.coinbase.com/exchange/rest-api/pagination
* Public REST rate limit (10 requests/s per IP, bursts to 15): https://docs.cdp.coinbase.com/exchange/rest-api/rate-limits
  (not re-checked here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from argos.contract import Reject, Trade
from argos_ingest.venues.base import BackfillRequest, Control, Parsed
from argos_ingest.venues.fields import BadField, decimal, field, int_id, iso_us, native_symbol, one_of, reject
from argos_ingest.venues.instruments import Instrument, make_trade, split_pair

VENUE = "coinbase"


class Coinbase:
    """Coinbase Exchange facts Argos relies on."""

    WS: ClassVar[str] = "wss://ws-feed.exchange.coinbase.com"
    REST: ClassVar[str] = "https://api.exchange.coinbase.com"
    TRADES_PATH: ClassVar[str] = "/products/{product_id}/trades"
    CHANNEL: ClassVar[str] = "matches"
    REST_MAX_LIMIT: ClassVar[int] = 1000
    REST_PUBLIC_REQUESTS_PER_SECOND: ClassVar[int] = 10
    SUBSCRIBE_WITHIN_SECONDS: ClassVar[float] = 5.0
    # Not a documented limit: products per connection we choose, so one slow product set stays one socket.
    PRODUCTS_PER_CONNECTION: ClassVar[int] = 100
    # "side" is the maker order's side: a resting buy order filled means the taker sold.
    MAKER_SIDE_IS_BUYER: ClassVar[dict[str, bool]] = {"buy": True, "sell": False}
    # Unqualified pairs map USDT to Coinbase's dollar books (BTCUSDT -> BTC-USD), where its volume is.
    QUOTE_ALIASES: ClassVar[dict[str, str]] = {"USDT": "USD"}


def product_id(pair: str) -> str:
    """A pair in any spelling → Coinbase's product id (``BTCUSDT`` → ``BTC-USD``, ``ETH-EUR`` stays)."""
    if "-" in pair and pair.upper() == pair and pair.count("-") == 1:
        return pair
    base, quote = split_pair(pair)
    return f"{base}-{Coinbase.QUOTE_ALIASES.get(quote, quote)}"


def instrument(symbol: str) -> Instrument:
    """``BTC-USD`` → spot BTC/USD (every Coinbase Exchange product is spot)."""
    base, quote = split_pair(symbol)
    return Instrument(VENUE, "spot", symbol, base, quote, "spot")


def _trade(data: Mapping[str, Any], symbol: str, event_time: int | None) -> Trade:
    trade_time = iso_us(data, "time")
    maker_buys = one_of(data, "side", Coinbase.MAKER_SIDE_IS_BUYER)
    return make_trade(instrument(native_symbol(symbol, "product_id")), int_id(data, "trade_id"),
                      decimal(data, "price"), decimal(data, "size"), maker_buys, trade_time, event_time or trade_time)


def parse_match(data: Mapping[str, Any]) -> Trade:
    """A ``match`` (or the ``last_match`` sent once after subscribing) of the ``matches`` channel::

        {"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8",
         "taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z",
         "product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}

    ``side`` is the maker's: ``sell`` means a resting sell was lifted, i.e. an aggressive buy. No event time is
    sent apart from the match time, so ``event_time`` is the match time.
    """
    return _trade(data, field(data, "product_id"), None)


def parse_control(message: Mapping[str, Any]) -> Control | None:
    """Non-trade frames::

        {"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]}]}   ack
        {"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}
        {"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"..."}
    """
    kind = message.get("type")
    if kind in ("subscriptions", "heartbeat"):
        return Control("ack", f"{kind}")
    if kind == "error":
        return Control("error", orjson.dumps(message).decode()[:500])
    return None


def parse_message(raw: str | bytes) -> Parsed:
    """One WebSocket frame → a Trade, a Control frame or a Reject naming what was wrong; never raises."""
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
        if message.get("type") in ("match", "last_match"):
            return parse_match(message)
        return reject(VENUE, f"field 'type' is not a match (got {message.get('type')!r:.40})", raw)
    except BadField as exc:
        return reject(VENUE, str(exc), raw)
    except Exception as exc:  # a parser bug must not kill the feed: file the frame and go on
        return reject(VENUE, f"unexpected {type(exc).__name__}: {exc}", raw)


def parse_rest_trade(row: Any, symbol: str) -> Trade | Reject:
    """One row of ``GET /products/BTC-USD/trades`` (newest first; ``side`` is the maker's)::

        {"time":"2014-11-07T22:19:28.578544Z","trade_id":74,"price":"10.00000000","size":"0.01000000",
         "side":"buy"}
    """
    if not isinstance(row, dict):
        return reject(VENUE, "REST row is not an object", row)
    try:
        return _trade(row, symbol, None)
    except (BadField, ValueError) as exc:
        return reject(VENUE, str(exc), row)


@dataclass(frozen=True, slots=True)
class CoinbaseMarket:
    """Coinbase Exchange spot, bound to its endpoints: the live loop's ``VenueMarket``."""

    ws_url: str = Coinbase.WS
    rest_url: str = Coinbase.REST
    symbols: tuple[str, ...] = ()

    venue: ClassVar[str] = VENUE
    market: ClassVar[str] = "spot"
    consecutive_ids: ClassVar[bool] = True
    backfill_limit: ClassVar[int] = Coinbase.REST_MAX_LIMIT
    max_symbols_per_connection: ClassVar[int] = Coinbase.PRODUCTS_PER_CONNECTION

    def stream_url(self, symbols: Sequence[str]) -> str:
        return self.ws_url

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """``{"type":"subscribe","product_ids":["BTC-USD"],"channels":["matches"]}`` (within 5 s of connecting)."""
        return [orjson.dumps({"type": "subscribe", "product_ids": list(symbols),
                              "channels": [Coinbase.CHANNEL]}).decode()]

    def stream_name(self, symbol: str) -> str:
        return f"{Coinbase.CHANNEL}:{symbol}"

    def parse(self, frame: str | bytes) -> Parsed:
        return parse_message(frame)

    def backfill_request(self, symbol: str, from_id: int, limit: int) -> BackfillRequest:
        """Trades ``from_id .. from_id+limit-1``: ``after`` is exclusive and pages towards older ids."""
        path = Coinbase.TRADES_PATH.format(product_id=symbol)
        return BackfillRequest(f"{self.rest_url.rstrip('/')}{path}",
                               {"after": str(from_id + limit), "limit": str(limit)})

    def parse_backfill(self, row: Any, symbol: str) -> Trade | Reject:
        return parse_rest_trade(row, symbol)

    def instrument(self, symbol: str) -> Instrument:
        return instrument(symbol)

    def native_symbol(self, pair: str) -> str:
        return product_id(pair)
