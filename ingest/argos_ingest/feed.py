"""The live connection loop: a venue's streams in, an ordered, gap-free, duplicate-free record stream out.

Venue-agnostic: it drives a :class:`~argos_ingest.venues.VenueMarket` (Binance today) and parses nothing
itself. One connection per market carries all symbols (split past the venue's per-connection limit).
Around it:

* keep-alive: the ``websockets`` client answers every server ping with a pong echoing its payload
  automatically (the fake exchange counts them in tests), and pings the server itself every 20 s;
* reconnect before ``settings.reconnect_after_seconds`` (Binance cuts at 24 h) and on ``serverShutdown``
  *make-before-break*: the new connection opens first, the old one keeps reading for ``overlap_seconds``;
* on drops, reconnect with exponential backoff and jitter (reset once a connection has lived ``stable_seconds``),
  and never more often than the venue's connection-attempt limit per host for the whole process
  (:class:`ConnectGate`; Binance: ~300 per 5 minutes per IP);
* gap detection, REST backfill and de-duplication of the reconnect overlap: ``argos_ingest.sequencer``;
* garbage frames come out as ``Reject`` records and the loop keeps running;
* a subscribed stream that stays empty raises an alarm (USD-M's old ``/ws`` paths accept and stay silent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake

from argos.contract import Record, Reject, Trade
from argos.settings import IngestSettings
from argos_ingest.metrics import IngestMetrics
from argos_ingest.rest import RestGates, backoff_delay, get_json_list
from argos_ingest.sequencer import Sequencer
from argos_ingest.venues import Control, VenueMarket, venue_markets
from argos_ingest.venues.base import (
    AppPing,
    BackfillRequest,
    app_ping,
    backfill_rows,
    metric_label,
    rest_weight_per_minute,
    venue_symbols,
)

log = logging.getLogger(__name__)

_CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed)  # the last: closed mid-subscribe


@dataclass(frozen=True)
class FeedTuning:
    """Knobs of the live loop; the defaults suit production, tests shrink the times."""

    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    stable_seconds: float = 30.0  # a connection that lived this long starts the backoff again from its first step
    connects_per_5min: int = 300  # per WebSocket host and process: Binance's limit per IP, the strictest venue's
    overlap_seconds: float = 2.0
    silence_alarm_seconds: float = 60.0
    silence_check_seconds: float = 5.0
    rest_attempts: int = 6
    rest_timeout_seconds: float = 10.0
    max_retry_after_seconds: float = 600.0
    missing_window: int = 10_000
    queue_size: int = 10_000
    max_frame_bytes: int = 2**20
    app_ping_seconds: float | None = None  # overrides the venue's application-level ping interval (tests)


class ConnectGate:
    """At most ``limit`` connection attempts per ``window`` seconds to each WebSocket host, for the whole process
    (one IP): a venue bans an IP that reconnects faster, as a server that accepts and closes at once would make it."""

    def __init__(self, limit: int = 300, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._attempts: dict[str, deque[float]] = {}

    async def admit(self, url: str) -> None:
        """Wait until one more attempt to ``url``'s host fits the window, and count it."""
        attempts = self._attempts.setdefault(urlsplit(url).netloc, deque())
        while True:
            now = self.clock()
            while attempts and now - attempts[0] >= self.window:
                attempts.popleft()
            if len(attempts) < self.limit:
                attempts.append(now)
                return
            wait = attempts[0] + self.window - now
            log.warning("%s: %d connection attempts in %.0fs; waiting %.1fs", urlsplit(url).netloc, len(attempts),
                        self.window, wait)
            await asyncio.sleep(wait)


class _Crash:
    """A feed task died of a bug: the generator re-raises it instead of hanging."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


@dataclass(eq=False)
class _Connection:
    ws: ClientConnection
    opened: float
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    frames: int = 0
    reader: asyncio.Task[str] | None = None


class MarketFeed:
    """The live loop of one market; :func:`live_trades` runs one per market into a shared queue."""

    def __init__(self, settings: IngestSettings, venue: VenueMarket, out: asyncio.Queue[Record | _Crash],
                 http: aiohttp.ClientSession, metrics: IngestMetrics, tuning: FeedTuning,
                 seeds: Mapping[tuple[str, str, str], int] | None = None, rest: RestGates | None = None,
                 connects: ConnectGate | None = None) -> None:
        self.settings = settings
        self.venue = venue
        self.market = metric_label(venue)  # the metrics' market label (venue-prefixed but for Binance)
        self.symbols = venue_symbols(venue, settings.symbols)
        self.out = out
        self.http = http
        self.metrics = metrics
        self.tuning = tuning
        self.sequencer = Sequencer(venue, self._emit, self._rest_get, metrics, tuning.missing_window,
                                   horizon=settings.backfill_horizon, buffer_limit=tuning.queue_size,
                                   spawn=self._spawn)
        for (venue_name, market, symbol), last_id in (seeds or {}).items():
            if venue_name == venue.venue and market == venue.market:
                self.sequencer.seed(symbol, last_id)
        self.rest = rest or RestGates()
        self.connects = connects or ConnectGate(tuning.connects_per_5min)
        self.last_seen: dict[str, float] = {}
        self.alarmed: set[str] = set()
        self.connected_since: float | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conns: set[_Connection] = set()

    # --- lifecycle -------------------------------------------------------------------------------------

    async def run(self) -> None:
        symbols, per_connection = self.symbols, self.venue.max_symbols_per_connection
        chunks = [symbols[i : i + per_connection] for i in range(0, len(symbols), per_connection)]
        loops = [self._spawn(self._connection_loop(chunk)) for chunk in chunks]
        loops.append(self._spawn(self._watch_silence()))
        try:
            await asyncio.gather(*loops)
        finally:
            await self.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), 2)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        """A task of this feed: cancelled on close; one that dies of an error stops the feed, never unseen."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._report_crash)
        return task

    def _report_crash(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: a feed task failed: %r", self.market, task.exception())
            with contextlib.suppress(asyncio.QueueFull):
                self.out.put_nowait(_Crash(task.exception()))

    # --- connections -----------------------------------------------------------------------------------

    async def _connection_loop(self, symbols: Sequence[str]) -> None:
        """Open, watch, rotate or reconnect, forever (until cancelled)."""
        attempt = 0
        live: _Connection | None = None
        while True:
            try:
                await self.connects.admit(self.venue.stream_url(symbols))
                conn = await self._open(symbols)
            except _CONNECT_ERRORS as exc:
                delay = backoff_delay(attempt, self.tuning.backoff_initial, self.tuning.backoff_max)
                attempt += 1
                log.warning("%s: connect failed (%s); retrying in %.1fs", self.market, exc, delay)
                await asyncio.sleep(delay)
                continue
            if live is not None:  # make-before-break: the new one is open, retire the old one
                self._spawn(self._retire(live))
            live = conn
            reason = await self._watch(conn)
            self.metrics.reconnects.labels(self.market, reason).inc()
            log.info("%s: reconnecting (%s)", self.market, reason)
            if reason in ("drop", "closed"):
                live = None
                if conn.frames > 0 and time.monotonic() - conn.opened >= self.tuning.stable_seconds:
                    attempt = 0
                delay = backoff_delay(attempt, self.tuning.backoff_initial, self.tuning.backoff_max)
                attempt += 1
                await asyncio.sleep(delay)

    async def _open(self, symbols: Sequence[str]) -> _Connection:
        url = self.venue.stream_url(symbols)
        ws = await connect(url, max_size=self.tuning.max_frame_bytes, open_timeout=10, close_timeout=2,
                           ping_interval=20, ping_timeout=20)
        try:
            for message in self.venue.subscribe_messages(symbols):
                await ws.send(message)
        except ConnectionClosed:
            await ws.close()
            raise
        conn = _Connection(ws, time.monotonic())
        self._conns.add(conn)
        self.metrics.connection_opened(self.market)
        if self.connected_since is None:
            self.connected_since = time.monotonic()
        conn.reader = self._spawn(self._read(conn))
        ping = app_ping(self.venue)
        if ping is not None:
            self._spawn(self._app_ping(conn, ping))
        log.info("%s: connected to %s", self.market, url.split("?")[0])
        return conn

    async def _app_ping(self, conn: _Connection, ping: AppPing) -> None:
        """Send the venue's application-level ping (OKX, Bybit) while the connection lives."""
        with contextlib.suppress(ConnectionClosed):
            interval = self.tuning.app_ping_seconds or ping.interval_seconds
            while conn in self._conns:
                await asyncio.sleep(interval)
                await conn.ws.send(ping.message)

    async def _watch(self, conn: _Connection) -> str:
        """Wait until the connection ends ('drop'/'closed'), asks to go ('shutdown') or ages out ('scheduled')."""
        assert conn.reader is not None
        remaining = conn.opened + self.settings.reconnect_after_seconds - time.monotonic()
        shutdown = asyncio.create_task(conn.shutdown.wait())
        try:
            done, _ = await asyncio.wait({conn.reader, shutdown}, timeout=max(0.0, remaining),
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            shutdown.cancel()
        if conn.reader in done:
            return conn.reader.result()
        return "shutdown" if shutdown in done else "scheduled"

    async def _retire(self, conn: _Connection) -> None:
        """Keep reading the old connection a little (overlap is de-duplicated), then close it."""
        await asyncio.sleep(self.tuning.overlap_seconds)
        with contextlib.suppress(Exception):
            await conn.ws.close(1000, "rotating")
        if conn.reader is not None:
            await asyncio.gather(conn.reader, return_exceptions=True)

    async def _read(self, conn: _Connection) -> str:
        """Read frames until the connection ends; return 'closed' (clean close) or 'drop'."""
        try:
            async for frame in conn.ws:
                conn.frames += 1
                await self._on_frame(conn, frame)
            return "closed"
        except ConnectionClosedOK:
            return "closed"
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:
                venue = self.venue.venue
                await self._emit(Reject(venue, f"{venue}: frame larger than {self.tuning.max_frame_bytes} bytes; "
                                        "connection closed (1009)", raw=""))
            log.warning("%s: connection lost: %s", self.market, exc)
            return "drop"
        finally:
            self._conns.discard(conn)
            self.metrics.connection_closed(self.market)

    async def _on_frame(self, conn: _Connection, frame: str | bytes) -> None:
        parsed = self.venue.parse(frame)
        for item in parsed if isinstance(parsed, list) else [parsed]:  # OKX and Bybit batch trades in a frame
            await self._on_record(conn, item)

    async def _on_record(self, conn: _Connection, parsed: Any) -> None:
        if isinstance(parsed, Control):
            if parsed.kind == "shutdown":
                log.warning("%s: %s; reconnecting", self.market, parsed.detail)
                conn.shutdown.set()
            elif parsed.kind == "error":
                log.warning("%s: server error %s", self.market, parsed.detail)
            return
        if isinstance(parsed, Trade):
            self._seen(parsed.symbol)
        async with self._lock:  # two connections overlap during a rotation: one decides at a time
            if isinstance(parsed, Reject):
                await self._emit(parsed)
            else:
                await self.sequencer.accept(parsed)

    async def _rest_get(self, request: BackfillRequest) -> list[Any] | None:
        t = self.tuning
        return await get_json_list(
            self.http, request.url, request.params, headers=request.headers, attempts=t.rest_attempts,
            timeout=t.rest_timeout_seconds, backoff_initial=t.backoff_initial, backoff_max=t.backoff_max,
            max_retry_after=t.max_retry_after_seconds, on_rate_limit=self.metrics.rate_limited.labels(self.market).inc,
            unwrap=lambda payload: backfill_rows(self.venue, payload),
            gate=self.rest.of(request.url, rest_weight_per_minute(self.venue)),
            weight=25,  # Binance historicalTrades: 25, the dearest backfill call of any venue
        )

    # --- output and silence ----------------------------------------------------------------------------

    async def _emit(self, record: Record) -> None:
        self.metrics.observe(record, self.market)
        await self.out.put(record)

    def _seen(self, symbol: str) -> None:
        self.last_seen[symbol] = time.monotonic()
        if symbol in self.alarmed:
            self.alarmed.discard(symbol)
            self.metrics.silent.labels(self.market, symbol).set(0)
            log.info("%s %s: stream delivers again", self.market, symbol)

    async def _watch_silence(self) -> None:
        """Alarm when a subscribed stream stays empty (a wrong USD-M path accepts and delivers nothing)."""
        while True:
            await asyncio.sleep(self.tuning.silence_check_seconds)
            if self.connected_since is None:
                continue
            now = time.monotonic()
            for symbol in self.symbols:
                since = self.last_seen.get(symbol, self.connected_since)
                if now - since >= self.tuning.silence_alarm_seconds and symbol not in self.alarmed:
                    self.alarmed.add(symbol)
                    self.metrics.silent.labels(self.market, symbol).set(1)
                    self.metrics.silent_alarms.labels(self.market, symbol).inc()
                    log.warning("%s %s: subscribed stream %s silent for %.0fs (USD-M needs the /market path)",
                                self.market, symbol, self.venue.stream_name(symbol), now - since)


async def live_trades(settings: IngestSettings, metrics: IngestMetrics | None = None,
                      tuning: FeedTuning | None = None,
                      seeds: Mapping[tuple[str, str, str], int] | None = None) -> AsyncIterator[Record]:
    """Trades (and rejects) of ``settings.symbols`` on each market of the venue, until closed.

    Per (market, symbol) the trade ids come out increasing and, once backfilled, contiguous; the exceptions are
    an id a backfill could not get arriving late on the stream (``argos_ingest_late_trades``) and a venue that
    resets its ids (``argos_ingest_id_resets``).
    Close it with ``aclose()`` (or ``contextlib.aclosing``) to stop its connections.
    """
    metrics = metrics or IngestMetrics()
    tuning = tuning or FeedTuning()
    out: asyncio.Queue[Record | _Crash] = asyncio.Queue(maxsize=tuning.queue_size)
    async with aiohttp.ClientSession() as http:
        rest = RestGates()  # per REST host, one budget and one pause for every market of this process (one IP)
        connects = ConnectGate(tuning.connects_per_5min)  # per WebSocket host, likewise
        feeds = [MarketFeed(settings, venue, out, http, metrics, tuning, seeds, rest, connects)
                 for venue in venue_markets(settings)]
        tasks = [asyncio.create_task(_guard(feed, out)) for feed in feeds]
        try:
            while True:
                item = await out.get()
                if isinstance(item, _Crash):
                    raise item.exc
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _guard(feed: MarketFeed, out: asyncio.Queue[Record | _Crash]) -> None:
    try:
        await feed.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("%s feed crashed", feed.market)
        await out.put(_Crash(exc))

