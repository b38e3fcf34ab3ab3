"""A local fake Binance that speaks the market-data protocol and misbehaves on request.

One instance plays one market on 127.0.0.1 (free ports): a websockets server for the streams and an aiohttp
server for the REST history, both fed from one generated, ever-growing trade history per symbol.

* spot: combined streams ``/stream?streams=btcusdt@trade/...`` and raw ``/ws/<stream>``; REST
  ``/api/v3/historicalTrades``, ``/api/v3/aggTrades``, ``/api/v3/trades``.
* usdm: ``/market/stream?streams=btcusdt@aggTrade/...`` (the old ``/stream`` and ``/ws`` connect but stay silent,
  like Binance since 2026-04), REST ``/fapi/v1/aggTrades``; coinm: ``/stream``, REST ``/dapi/v1/aggTrades``.
* ``timeUnit=MICROSECOND`` switches a connection's timestamps to µs (on REST the header ``X-MBX-TIME-UNIT``).
  The server pings every ``ping_interval`` seconds and counts the pongs it gets back (``pongs``).
* REST weight as Binance counts it: each endpoint's weight over a rolling minute against the market's limit
  (spot 6,000, futures 2,400), reported in ``X-MBX-USED-WEIGHT-1M``; past the limit a 429 with ``Retry-After``.
  A request inside a 429's ``Retry-After`` gets another 429 (``violations`` counts them: ones already in flight
  when the first was sent are among them) and, past three, a 418 ban (``banned`` counts those answers).

Faults are a scriptable plan of :class:`Fault` s, each fired once the server has generated ``after`` trades,
or right away with :meth:`FakeBinance.inject`::

    async with FakeBinance("spot", ["BTCUSDT"], faults=[Fault("skip", after=50, count=5),
                                                        Fault("drop", after=120)]) as fake:
        settings = IngestSettings(**fake.settings_fields(), symbols=["BTCUSDT"])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson
from aiohttp import web
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from argos_testkit.local_exchange import LocalExchange

log = logging.getLogger(__name__)

FaultKind = Literal["drop", "skip", "garbage", "oversized", "shutdown", "close", "rate_limit"]


@dataclass(frozen=True)
class Fault:
    """One misbehaviour.

    * ``drop``: abort every connection's TCP transport (no close frame).
    * ``skip``: withhold the next ``count`` trades of ``symbol`` (None: of every symbol) from the streams;
      they stay in the REST history.
    * ``garbage``: send ``frame`` (text or bytes) on every connection.
    * ``oversized``: send a text frame of ``size`` bytes (larger than a client's max_size).
    * ``shutdown``: send a ``serverShutdown`` event, keep streaming, close after ``close_after`` seconds.
    * ``close``: close every connection cleanly, like the 24 h cut.
    * ``rate_limit``: answer the next REST request with HTTP 429 and ``Retry-After: retry_after``.
    """

    kind: FaultKind
    after: int = 0
    symbol: str | None = None
    count: int = 1
    frame: str | bytes = "{this is not json"
    size: int = 2 * 1024 * 1024
    retry_after: int = 1
    close_after: float = 0.3


@dataclass(slots=True)
class _Fill:
    trade_id: int
    price: str
    qty: str
    time_us: int
    maker: bool


@dataclass(eq=False)
class _Conn:
    ws: ServerConnection
    streams: set[str]
    combined: bool
    micro: bool
    delivers: bool
    queue: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)


class FakeBinance(LocalExchange):
    """Fake Binance market-data endpoints for one market; use as ``async with`` or start()/stop()."""

    def __init__(self, market: Literal["spot", "usdm", "coinm"] = "spot", symbols: list[str] | tuple[str, ...] =
                 ("BTCUSDT",), *, rate: float = 200.0, seed: int = 0, start_id: int = 1_000,
                 faults: list[Fault] | None = None, ping_interval: float = 1.0, history_limit: int = 500_000) -> None:
        super().__init__()
        self.market = market
        self.symbols = [s.upper() for s in symbols]
        self.rate = rate
        self.ping_interval = ping_interval
        self.history_limit = history_limit
        self.faults: list[Fault] = sorted(faults or [], key=lambda f: f.after)
        self.history: dict[str, list[_Fill]] = {s: [] for s in self.symbols}
        self.generated = 0
        self.pongs = 0
        self.connections_total = 0
        self.connection_paths: list[str] = []
        self.rest_requests = 0
        self.rate_limited = 0
        self.violations = 0
        self.banned = 0
        self._weights: deque[tuple[float, int]] = deque()  # (time, weight) of the last minute's requests
        self._limited_until = 0.0
        self.fired: list[Fault] = []
        self._rng = random.Random(seed)
        self._next_id = {s: start_id for s in self.symbols}
        self._price = {s: 100.0 * (i + 1) for i, s in enumerate(self.symbols)}
        self._skip: dict[str, int] = {}
        self._retry_after: list[int] = []
        self._conns: set[_Conn] = set()
        self._paused = False

    # --- lifecycle -------------------------------------------------------------------------------------

    def settings_fields(self, silent_path: bool = False) -> dict[str, Any]:
        """``IngestSettings`` fields that point this market at the fake (usdm: ``/market`` unless silent)."""
        if self.market != "usdm":
            key = "binance" if self.market == "spot" else "binance_coinm"
            return {f"{key}_ws_url": self.ws_url, f"{key}_rest_url": self.rest_url}
        ws = self.ws_url if silent_path else f"{self.ws_url}/market"
        return {"binance_futures_ws_url": ws, "binance_futures_rest_url": self.rest_url}

    def inject(self, fault: Fault) -> None:
        """Fire a fault now (``after`` is ignored)."""
        self._fire(fault)

    def pause(self, paused: bool = True) -> None:
        """Stop (or resume) generating trades."""
        self._paused = paused

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def last_id(self, symbol: str) -> int:
        return self._next_id[symbol.upper()] - 1

    # --- trade generation ------------------------------------------------------------------------------

    async def _generate(self) -> None:
        tick, due, last = 0.01, 0.0, time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            due += (now - last) * self.rate
            last = now
            if self._paused:
                due = 0.0
                continue
            while due >= 1:
                due -= 1
                self._new_trade(self._rng.choice(self.symbols))

    def _new_trade(self, symbol: str) -> None:
        self._price[symbol] = max(0.01, self._price[symbol] * (1 + self._rng.gauss(0, 0.0005)))
        fill = _Fill(self._next_id[symbol], f"{self._price[symbol]:.2f}", f"{self._rng.uniform(0.001, 2):.5f}",
                     time.time_ns() // 1_000, self._rng.random() < 0.5)
        self._next_id[symbol] += 1
        history = self.history[symbol]
        history.append(fill)
        if len(history) > 2 * self.history_limit:
            del history[: len(history) - self.history_limit]
        self.generated += 1
        while self.faults and self.faults[0].after <= self.generated:
            self._fire(self.faults.pop(0))
        self._broadcast(symbol, fill)

    def _broadcast(self, symbol: str, fill: _Fill) -> None:
        if self._skip.get(symbol, 0) > 0:
            self._skip[symbol] -= 1
            return
        for conn in self._conns:
            for stream in (f"{symbol.lower()}@trade", f"{symbol.lower()}@aggTrade"):
                if conn.delivers and stream in conn.streams:
                    conn.queue.put_nowait(self._event(conn, stream, symbol, fill))

    def _event(self, conn: _Conn, stream: str, symbol: str, fill: _Fill) -> bytes:
        scale = 1 if conn.micro else 1_000
        event_time = time.time_ns() // 1_000 // scale
        trade_time = fill.time_us // scale
        if stream.endswith("@trade"):
            data: dict[str, Any] = {"e": "trade", "E": event_time, "s": symbol, "t": fill.trade_id, "p": fill.price,
                                    "q": fill.qty, "T": trade_time, "m": fill.maker, "M": True}
        else:
            data = {"e": "aggTrade", "E": event_time, "s": symbol, "a": fill.trade_id, "p": fill.price,
                    "q": fill.qty, "f": fill.trade_id, "l": fill.trade_id, "T": trade_time, "m": fill.maker}
            if self.market == "spot":
                data["M"] = True
        return orjson.dumps({"stream": stream, "data": data} if conn.combined else data)

    # --- faults ----------------------------------------------------------------------------------------

    def _fire(self, fault: Fault) -> None:
        log.info("fake binance: firing %s", fault)
        self.fired.append(fault)
        if fault.kind == "skip":
            for symbol in [fault.symbol.upper()] if fault.symbol else self.symbols:
                self._skip[symbol] = self._skip.get(symbol, 0) + fault.count
        elif fault.kind == "rate_limit":
            self._retry_after.append(fault.retry_after)
        elif fault.kind == "drop":
            for conn in list(self._conns):
                conn.ws.transport.abort()
        elif fault.kind == "close":
            for conn in list(self._conns):
                self._spawn(conn.ws.close(1001, "connection lifetime reached"))
        elif fault.kind in ("garbage", "oversized"):
            frame = fault.frame if fault.kind == "garbage" else "x" * fault.size
            for conn in self._conns:
                conn.queue.put_nowait(frame)
        elif fault.kind == "shutdown":
            event = orjson.dumps({"e": "serverShutdown", "E": time.time_ns() // 1_000_000})
            for conn in list(self._conns):
                conn.queue.put_nowait(event)
                self._spawn(self._close_later(conn, fault.close_after))

    async def _close_later(self, conn: _Conn, delay: float) -> None:
        await asyncio.sleep(delay)
        await conn.ws.close(1001, "server shutdown")

    # --- WebSocket -------------------------------------------------------------------------------------

    def _route(self, path: str) -> tuple[bool, set[str], bool]:
        """(delivers, streams, combined) for a request path like ``/market/stream?streams=a/b``."""
        url = urlsplit(path)
        prefix = "/market" if self.market == "usdm" else ""
        query = parse_qs(url.query)
        streams = {s for s in query.get("streams", [""])[0].split("/") if s}
        if url.path.endswith("/stream"):
            return url.path == f"{prefix}/stream", streams, True
        if "/ws/" in url.path:
            raw = url.path.rsplit("/ws/", 1)
            return raw[0] == prefix, {raw[1]}, False
        return False, streams, url.path.endswith("/ws")

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        delivers, streams, combined = self._route(path)
        micro = "timeunit=microsecond" in path.lower()
        conn = _Conn(ws, streams, combined, micro, delivers)
        self.connections_total += 1
        self.connection_paths.append(path)
        self._conns.add(conn)
        sender = self._spawn(self._send_loop(conn))
        pinger = self._spawn(self._ping_loop(conn))
        try:
            async for message in ws:
                await self._on_request(conn, message)
        except ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)
            sender.cancel()
            pinger.cancel()

    async def _send_loop(self, conn: _Conn) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await conn.ws.send(await conn.queue.get())

    async def _ping_loop(self, conn: _Conn) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.ping_interval)
                waiter = await conn.ws.ping(b"argos-fake")
                try:
                    await asyncio.wait_for(waiter, timeout=max(5 * self.ping_interval, 2.0))
                except TimeoutError:
                    await conn.ws.close(1008, "pong timeout")
                    return
                self.pongs += 1

    async def _on_request(self, conn: _Conn, message: str | bytes) -> None:
        """``{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}`` → ``{"result":null,"id":1}``."""
        try:
            request = orjson.loads(message)
            method, params, rid = request["method"], request.get("params", []), request["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await conn.ws.send(orjson.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": None}))
            return
        if method == "SUBSCRIBE":
            conn.streams.update(params)
        elif method == "UNSUBSCRIBE":
            conn.streams.difference_update(params)
        result = sorted(conn.streams) if method == "LIST_SUBSCRIPTIONS" else None
        await conn.ws.send(orjson.dumps({"result": result, "id": rid}))

    # --- REST ------------------------------------------------------------------------------------------

    def _rest_application(self) -> web.Application:
        app = web.Application(middlewares=[self._rate_limit_middleware])
        for path in ("/api/v3/historicalTrades", "/api/v3/trades", "/fapi/v1/historicalTrades"):
            app.router.add_get(path, self._trades_handler)
        for path in ("/api/v3/aggTrades", "/fapi/v1/aggTrades", "/dapi/v1/aggTrades"):
            app.router.add_get(path, self._agg_trades_handler)
        return app

    @web.middleware
    async def _rate_limit_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.rest_requests += 1
        now = time.monotonic()
        if now < self._limited_until:  # sent inside a 429's Retry-After: failing to back off ends in a ban
            self.violations += 1
            if self.violations > 3:
                self.banned += 1
                return web.json_response({"code": -1003, "msg": "Way too many requests; IP banned."}, status=418,
                                         headers={"Retry-After": "2"})
            self.rate_limited += 1
            return web.json_response({"code": -1003, "msg": "Too many requests."}, status=429,
                                     headers={"Retry-After": str(max(1, round(self._limited_until - now)))})
        while self._weights and now - self._weights[0][0] >= 60:
            self._weights.popleft()
        used = sum(w for _, w in self._weights) + REST_WEIGHTS.get(request.path, 1)
        if self._retry_after or used > (6_000 if self.market == "spot" else 2_400):
            self.rate_limited += 1
            retry = self._retry_after.pop(0) if self._retry_after else max(1, int(self._weights[0][0] + 61 - now))
            self._limited_until = now + retry
            return web.json_response({"code": -1003, "msg": "Too many requests."}, status=429,
                                     headers={"Retry-After": str(retry)})
        self._weights.append((now, REST_WEIGHTS.get(request.path, 1)))
        response = await handler(request)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        return response

    def _select(self, request: web.Request) -> list[_Fill] | web.Response:
        symbol = request.query.get("symbol", "").upper()
        if not symbol:
            return _error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.history:
            return _error(-1121, "Invalid symbol.")
        try:
            limit = int(request.query.get("limit", "500"))
            from_id = int(request.query["fromId"]) if "fromId" in request.query else None
        except ValueError:
            return _error(-1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= 1000:
            return _error(-1130, "Data sent for parameter 'limit' is not valid.")
        history = self.history[symbol]
        if not history:
            return []
        if from_id is None or request.path.endswith("/trades"):
            return history[-limit:]
        start = max(0, from_id - history[0].trade_id)
        return history[start : start + limit]

    async def _trades_handler(self, request: web.Request) -> web.Response:
        """Rows like ``{"id":..,"price":..,"qty":..,"quoteQty":..,"time":..,"isBuyerMaker":..,"isBestMatch":..}``."""
        fills = self._select(request)
        if isinstance(fills, web.Response):
            return fills
        scale = _time_scale(request)
        rows = [{"id": f.trade_id, "price": f.price, "qty": f.qty, "quoteQty": f"{float(f.price) * float(f.qty):.8f}",
                 "time": f.time_us // scale, "isBuyerMaker": f.maker, "isBestMatch": True} for f in fills]
        return web.Response(body=orjson.dumps(rows), content_type="application/json")

    async def _agg_trades_handler(self, request: web.Request) -> web.Response:
        """Rows like ``{"a":..,"p":..,"q":..,"f":..,"l":..,"T":..,"m":..,"M":..}`` (futures: no ``M``)."""
        fills = self._select(request)
        if isinstance(fills, web.Response):
            return fills
        rows, scale = [], _time_scale(request)
        for f in fills:
            row: dict[str, Any] = {"a": f.trade_id, "p": f.price, "q": f.qty, "f": f.trade_id, "l": f.trade_id,
                                   "T": f.time_us // scale, "m": f.maker}
            if request.path.startswith("/api/"):
                row["M"] = True
            rows.append(row)
        return web.Response(body=orjson.dumps(rows), content_type="application/json")


# Each history endpoint's REQUEST_WEIGHT (spot: shared/binance-protocol.md; the futures' are not in it, taken as 20).
REST_WEIGHTS = {"/api/v3/historicalTrades": 25, "/api/v3/trades": 25, "/api/v3/aggTrades": 4,
                "/fapi/v1/historicalTrades": 20, "/fapi/v1/aggTrades": 20, "/dapi/v1/aggTrades": 20}


def _time_scale(request: web.Request) -> int:
    """Spot REST answers in µs when asked by ``X-MBX-TIME-UNIT``, else (and futures always) in ms."""
    micro = request.path.startswith("/api/") and request.headers.get("X-MBX-TIME-UNIT", "").upper() == "MICROSECOND"
    return 1 if micro else 1_000


def _error(code: int, msg: str, status: int = 400) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)
