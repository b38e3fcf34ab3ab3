"""The shared core of the local fake exchanges for Coinbase, OKX and Bybit: trades, faults, servers.

Each venue's fake (``fake_coinbase``, ``fake_okx``, ``fake_bybit``) subclasses :class:`FakeVenue` with its
protocol: how a client subscribes and pings, how a trade push looks, and its REST history. The core
generates one ever-growing trade history per symbol (fills of one taker order share price and side, so
venues that aggregate them can), serves a WebSocket and an aiohttp server on 127.0.0.1 (free ports), and
misbehaves on a scriptable plan of :class:`VenueFault` s, each fired once ``after`` fills were generated since
a client first subscribed (so a slow start cannot make a fault fire into an empty room):

* ``drop``: abort every connection's transport (no close frame);
* ``skip``: withhold the next ``count`` fills of ``symbol`` (None: every symbol) from the streams, not from REST;
* ``garbage``: send ``frame`` on every connection;
* ``close``: close every connection from the server side (code 1001);
* ``shutdown``: the venue's "going away" notice, then close after ``close_after`` seconds;
* ``rate_limit``: answer the next REST request with HTTP 429 and ``Retry-After``.

A connection that has not subscribed within ``subscribe_timeout`` seconds, or (venues with app-level pings)
has sent no ping for ``idle_timeout`` seconds, is closed like the real venue does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from argos_testkit.local_exchange import LocalExchange

FaultKind = Literal["drop", "skip", "garbage", "close", "shutdown", "rate_limit"]


@dataclass(frozen=True)
class VenueFault:
    """One misbehaviour (see the module docstring)."""

    kind: FaultKind
    after: int = 0
    symbol: str | None = None
    count: int = 1
    frame: str | bytes = "{this is not json"
    retry_after: int = 1
    close_after: float = 0.3


@dataclass(slots=True)
class Fill:
    """One exchange trade: ``trade_id`` counts up per symbol; ``uid`` is its opaque id where a venue uses one."""

    trade_id: int
    price: str
    qty: str
    time_us: int
    taker_sells: bool
    uid: str
    order: int  # fills of one taker order share this number (and price and side)


@dataclass(eq=False)
class FakeConn:
    ws: ServerConnection
    symbols: set[str] = field(default_factory=set)
    queue: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)
    last_ping: float = field(default_factory=time.monotonic)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)


class FakeVenue(LocalExchange):
    """Base of a fake exchange; subclasses implement the ``protocol`` section."""

    venue = "fake"
    app_ping = False  # True: the client must ping within ``idle_timeout``

    def __init__(self, symbols: list[str] | tuple[str, ...], *, market: str = "spot", rate: float = 200.0,
                 seed: int = 0, start_id: int = 1_000, faults: list[VenueFault] | None = None,
                 subscribe_timeout: float = 5.0, idle_timeout: float = 30.0, fills_per_order: int = 3) -> None:
        super().__init__()
        self.symbols = list(symbols)
        self.market = market
        self.rate = rate
        self.subscribe_timeout = subscribe_timeout
        self.idle_timeout = idle_timeout
        self.fills_per_order = fills_per_order
        self.faults: list[VenueFault] = sorted(faults or [], key=lambda f: f.after)
        self.history: dict[str, list[Fill]] = {s: [] for s in self.symbols}
        self.generated = 0
        self.first_subscribed_at: int | None = None  # fills generated when the first subscription arrived
        self.pings = 0
        self.connections_total = 0
        self.subscribe_requests: list[Any] = []
        self.rest_requests = 0
        self.rate_limited = 0
        self.closed_idle = 0
        self.fired: list[VenueFault] = []
        self.delivered: dict[str, set[int]] = {s: set() for s in self.symbols}  # fill ids queued to a subscriber
        self.rng = random.Random(seed)
        self._next_id = dict.fromkeys(self.symbols, start_id)
        self._price = {s: 100.0 * (i + 1) for i, s in enumerate(self.symbols)}
        self._order = 0
        self._skip: dict[str, int] = {}
        self._retry_after: list[int] = []
        self._conns: set[FakeConn] = set()

    # --- lifecycle -------------------------------------------------------------------------------------

    def _rest_application(self) -> web.Application:
        app = web.Application(middlewares=[self._rate_limit_middleware])
        self.rest_routes(app)
        return app

    def inject(self, fault: VenueFault) -> None:
        self._fire(fault)

    def last_id(self, symbol: str) -> int:
        return self._next_id[symbol] - 1

    # --- trades ----------------------------------------------------------------------------------------

    async def _generate(self) -> None:
        due, last = 0.0, time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            due += (now - last) * self.rate
            last = now
            while due >= 1:
                symbol = self.rng.choice(self.symbols)
                k = min(int(due), self.rng.randint(1, self.fills_per_order))
                due -= k
                self._new_order(symbol, k)

    def _new_order(self, symbol: str, k: int) -> None:
        """``k`` fills of one taker order: same price, same side, consecutive ids."""
        rng = self.rng
        self._price[symbol] = max(0.01, self._price[symbol] * (1 + rng.gauss(0, 0.0005)))
        self._order += 1
        sells, price, now = rng.random() < 0.5, f"{self._price[symbol]:.2f}", time.time_ns() // 1_000
        fills = []
        for _ in range(k):
            fill = Fill(self._next_id[symbol], price, f"{rng.uniform(0.001, 2):.5f}", now, sells,
                        f"{rng.getrandbits(128):032x}", self._order)
            self._next_id[symbol] += 1
            self.history[symbol].append(fill)
            self.generated += 1
            fills.append(fill)
        started = self.first_subscribed_at
        while started is not None and self.faults and self.faults[0].after <= self.generated - started:
            self._fire(self.faults.pop(0))
        if self._skip.get(symbol, 0) > 0:
            withheld = min(self._skip[symbol], len(fills))
            self._skip[symbol] -= withheld
            fills = fills[withheld:]
        if fills:
            for conn in self._conns:
                if symbol in conn.symbols:
                    self.delivered[symbol].update(f.trade_id for f in fills)
                    for frame in self.push(symbol, fills):
                        conn.queue.put_nowait(frame)

    # --- faults ----------------------------------------------------------------------------------------

    def _fire(self, fault: VenueFault) -> None:
        self.fired.append(fault)
        if fault.kind == "skip":
            for symbol in [fault.symbol] if fault.symbol else self.symbols:
                self._skip[symbol] = self._skip.get(symbol, 0) + fault.count
        elif fault.kind == "rate_limit":
            self._retry_after.append(fault.retry_after)
        elif fault.kind == "drop":
            for conn in list(self._conns):
                conn.ws.transport.abort()
        elif fault.kind == "close":
            for conn in list(self._conns):
                self._spawn(conn.ws.close(1001, "server closing"))
        elif fault.kind == "garbage":
            for conn in self._conns:
                conn.queue.put_nowait(fault.frame)
        elif fault.kind == "shutdown":
            notice = self.shutdown_notice()
            for conn in list(self._conns):
                if notice is not None:
                    conn.queue.put_nowait(notice)
                self._spawn(self._close_later(conn, fault.close_after))

    async def _close_later(self, conn: FakeConn, delay: float) -> None:
        await asyncio.sleep(delay)
        await conn.ws.close(1001, "service upgrade")

    # --- WebSocket -------------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        conn = FakeConn(ws)
        self.connections_total += 1
        self._conns.add(conn)
        tasks = [self._spawn(self._send_loop(conn)), self._spawn(self._watchdog(conn))]
        try:
            async for message in ws:
                for reply in self.on_client_message(conn, message):
                    conn.queue.put_nowait(reply)
        except ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)
            for task in tasks:
                task.cancel()

    async def _send_loop(self, conn: FakeConn) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await conn.ws.send(await conn.queue.get())

    async def _watchdog(self, conn: FakeConn) -> None:
        """Close a connection that does not subscribe in time or (app-ping venues) stops pinging."""
        with contextlib.suppress(ConnectionClosed):
            try:
                await asyncio.wait_for(conn.subscribed.wait(), self.subscribe_timeout)
            except TimeoutError:
                await conn.ws.close(1008, "no subscription")
                return
            while self.app_ping:
                await asyncio.sleep(min(self.idle_timeout / 4, 1.0))
                if time.monotonic() - conn.last_ping > self.idle_timeout:
                    self.closed_idle += 1
                    await conn.ws.close(4000, "no ping")
                    return

    def subscribe(self, conn: FakeConn, symbols: list[str]) -> list[str]:
        """Record a subscription; returns the symbols this fake does not list."""
        unknown = [s for s in symbols if s not in self.history]
        conn.symbols.update(s for s in symbols if s in self.history)
        conn.subscribed.set()
        if self.first_subscribed_at is None:
            self.first_subscribed_at = self.generated
        return unknown

    # --- REST ------------------------------------------------------------------------------------------

    @web.middleware
    async def _rate_limit_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.rest_requests += 1
        if self._retry_after:
            self.rate_limited += 1
            return web.json_response({"message": "Too Many Requests"}, status=429,
                                     headers={"Retry-After": str(self._retry_after.pop(0))})
        return await handler(request)

    def older_than(self, symbol: str, before_id: int, limit: int) -> list[Fill]:
        """Up to ``limit`` fills with ids below ``before_id``, newest first (Coinbase/OKX ``after`` paging)."""
        history = self.history[symbol]
        if not history:
            return []
        end = max(0, min(len(history), before_id - history[0].trade_id))
        return history[max(0, end - limit) : end][::-1]

    # --- protocol (subclasses) -------------------------------------------------------------------------

    def on_client_message(self, conn: FakeConn, message: str | bytes) -> list[str]:
        raise NotImplementedError

    def push(self, symbol: str, fills: list[Fill]) -> list[str]:
        raise NotImplementedError

    def shutdown_notice(self) -> str | None:
        return None

    def rest_routes(self, app: web.Application) -> None:
        raise NotImplementedError
