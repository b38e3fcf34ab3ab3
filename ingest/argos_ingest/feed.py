"""The live connection loop: Binance streams in, an ordered, gap-free, duplicate-free record stream out.

One combined-stream connection per market carries all symbols (split only past Binance's 1024 streams per
connection). Around it:

* keep-alive: the ``websockets`` client answers every server ping with a pong echoing its payload
  automatically (the fake exchange counts them in tests), and pings the server itself every 20 s;
* reconnect before ``settings.reconnect_after_seconds`` (Binance cuts at 24 h) and on ``serverShutdown``
  *make-before-break*: the new connection opens first, the old one keeps reading for ``overlap_seconds``;
* on drops, reconnect with exponential backoff and jitter;
* gap detection by consecutive id per (market, symbol) and REST backfill by ``fromId`` (spot
  ``historicalTrades`` for ``@trade``, USD-M ``aggTrades`` for ``@aggTrade``), respecting 429 Retry-After;
* de-duplication: an id at or below the last emitted one is dropped, so the reconnect overlap never comes
  out twice. Memory per symbol is the last id plus a small window of ids a failed backfill left missing;
* garbage frames come out as ``Reject`` records and the loop keeps running;
* a subscribed stream that stays empty raises an alarm (USD-M's old ``/ws`` paths accept and stay silent).

Only Binance is wired today, but nothing here parses a payload: ``argos_ingest.venues.binance`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake

from argos.contract import Record, Reject, Trade
from argos.settings import IngestSettings
from argos_ingest.metrics import IngestMetrics
from argos_ingest.venues.binance import (
    VENUE,
    Binance,
    Control,
    MarketSpec,
    parse_message,
    parse_rest_agg_trade,
    parse_rest_trade,
)

log = logging.getLogger(__name__)

_CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake)


@dataclass(frozen=True)
class FeedTuning:
    """Knobs of the live loop; the defaults suit production, tests shrink the times."""

    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    overlap_seconds: float = 2.0
    silence_alarm_seconds: float = 60.0
    silence_check_seconds: float = 5.0
    rest_attempts: int = 6
    rest_timeout_seconds: float = 10.0
    max_retry_after_seconds: float = 600.0
    missing_window: int = 10_000
    queue_size: int = 10_000
    max_frame_bytes: int = 2**20
    microsecond_timestamps: bool = True  # spot supports timeUnit=MICROSECOND; USD-M does not


def backoff_delay(attempt: int, initial: float, maximum: float, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: uniform in [½, 1] × min(maximum, initial × 2^attempt)."""
    return min(maximum, initial * 2**attempt) * (0.5 + rng() / 2)


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


class _SymbolIds:
    """Last emitted id of one symbol, plus ids a failed backfill left missing (bounded)."""

    __slots__ = ("last", "missing")

    def __init__(self) -> None:
        self.last: int | None = None
        self.missing: set[int] = set()


class MarketFeed:
    """The live loop of one market; :func:`live_trades` runs one per market into a shared queue."""

    def __init__(self, settings: IngestSettings, spec: MarketSpec, out: asyncio.Queue[Record | _Crash],
                 http: aiohttp.ClientSession, metrics: IngestMetrics, tuning: FeedTuning) -> None:
        self.settings = settings
        self.spec = spec
        self.market = spec.market
        self.out = out
        self.http = http
        self.metrics = metrics
        self.tuning = tuning
        self.ids: dict[str, _SymbolIds] = {}
        self.last_seen: dict[str, float] = {}
        self.alarmed: set[str] = set()
        self.connected_since: float | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conns: set[_Connection] = set()

    # --- lifecycle -------------------------------------------------------------------------------------

    async def run(self) -> None:
        symbols = self.settings.symbols
        chunks = [symbols[i : i + self.spec.max_streams] for i in range(0, len(symbols), self.spec.max_streams)]
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
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def url(self, symbols: Sequence[str]) -> str:
        url = self.spec.combined_url(self.settings, symbols)
        if self.tuning.microsecond_timestamps and self.market == "spot":
            url += f"&{Binance.MICROSECOND_PARAM}"
        return url

    # --- connections -----------------------------------------------------------------------------------

    async def _connection_loop(self, symbols: Sequence[str]) -> None:
        """Open, watch, rotate or reconnect, forever (until cancelled)."""
        attempt = 0
        live: _Connection | None = None
        while True:
            try:
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
                if conn.frames > 0:
                    attempt = 0
                delay = backoff_delay(attempt, self.tuning.backoff_initial, self.tuning.backoff_max)
                attempt += 1
                await asyncio.sleep(delay)

    async def _open(self, symbols: Sequence[str]) -> _Connection:
        url = self.url(symbols)
        ws = await connect(url, max_size=self.tuning.max_frame_bytes, open_timeout=10, close_timeout=2,
                           ping_interval=20, ping_timeout=20)
        conn = _Connection(ws, time.monotonic())
        self._conns.add(conn)
        self.metrics.connection_opened(self.market)
        if self.connected_since is None:
            self.connected_since = time.monotonic()
        conn.reader = self._spawn(self._read(conn))
        log.info("%s: connected to %s", self.market, url.split("?")[0])
        return conn

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
                await self._emit(Reject(VENUE, f"{VENUE}: frame larger than {self.tuning.max_frame_bytes} bytes; "
                                        "connection closed (1009)", raw=""))
            log.warning("%s: connection lost: %s", self.market, exc)
            return "drop"
        finally:
            self._conns.discard(conn)
            self.metrics.connection_closed(self.market)

    async def _on_frame(self, conn: _Connection, frame: str | bytes) -> None:
        parsed = parse_message(frame, self.market)
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
                await self._accept(parsed)

    # --- ids: de-duplication, gaps, backfill -----------------------------------------------------------

    async def _accept(self, trade: Trade) -> None:
        ids = self.ids.setdefault(trade.symbol, _SymbolIds())
        if ids.last is None or trade.trade_id == ids.last + 1:
            ids.last = trade.trade_id
            await self._emit(trade)
        elif trade.trade_id <= ids.last:
            if trade.trade_id in ids.missing:  # late copy of an id a failed backfill could not get
                ids.missing.discard(trade.trade_id)
                await self._emit(trade)
            else:
                self.metrics.duplicates.labels(self.market, trade.symbol).inc()
        else:
            self.metrics.gaps.labels(self.market, trade.symbol).inc()
            log.info("%s %s: gap %d..%d, backfilling", self.market, trade.symbol, ids.last + 1, trade.trade_id - 1)
            await self._backfill(trade.symbol, ids, trade.trade_id - 1)
            ids.last = trade.trade_id
            await self._emit(trade)

    async def _backfill(self, symbol: str, ids: _SymbolIds, until: int) -> None:
        """Emit ids ``last+1 .. until`` from REST, 1000 per call; what cannot be fetched is remembered as missing."""
        assert ids.last is not None
        next_id = ids.last + 1
        parse = parse_rest_trade if self.spec.event == "trade" else parse_rest_agg_trade
        while next_id <= until:
            limit = min(Binance.REST_MAX_LIMIT, until - next_id + 1)
            rows = await self._rest_get(self.spec.backfill_url(self.settings),
                                        {"symbol": symbol, "fromId": str(next_id), "limit": str(limit)})
            progressed = False
            for row in rows or []:
                record = parse(row, symbol, self.market) if isinstance(row, dict) else Reject(
                    VENUE, f"{VENUE}: REST row is not an object", orjson.dumps(row).decode())
                if isinstance(record, Reject):
                    await self._emit(record)
                    continue
                if record.trade_id < next_id or record.trade_id > until:
                    continue
                self._remember_missing(ids, next_id, record.trade_id - 1)
                next_id = record.trade_id + 1
                ids.last = record.trade_id
                self.metrics.backfilled.labels(self.market, symbol).inc()
                await self._emit(record)
                progressed = True
            if not progressed:
                break
        if next_id <= until:
            self.metrics.backfill_failures.labels(self.market, symbol).inc()
            log.error("%s %s: could not backfill ids %d..%d", self.market, symbol, next_id, until)
            self._remember_missing(ids, next_id, until)

    def _remember_missing(self, ids: _SymbolIds, first: int, last: int) -> None:
        room = self.tuning.missing_window - len(ids.missing)
        if last >= first and room > 0:
            ids.missing.update(range(max(first, last - room + 1), last + 1))

    async def _rest_get(self, url: str, params: dict[str, str]) -> list[Any] | None:
        """GET a JSON list; honour 429/418 Retry-After, retry 5xx and network errors with backoff."""
        timeout = aiohttp.ClientTimeout(total=self.tuning.rest_timeout_seconds)
        for attempt in range(self.tuning.rest_attempts):
            delay = backoff_delay(attempt, self.tuning.backoff_initial, self.tuning.backoff_max)
            try:
                async with self.http.get(url, params=params, timeout=timeout) as resp:
                    body = await resp.read()
                    if resp.status in (429, 418):
                        self.metrics.rate_limited.labels(self.market).inc()
                        delay = _retry_after(resp.headers.get("Retry-After"), delay,
                                             self.tuning.max_retry_after_seconds)
                        log.warning("%s: REST %d, waiting %.1fs (Retry-After)", self.market, resp.status, delay)
                    elif resp.status >= 500:
                        log.warning("%s: REST %d from %s", self.market, resp.status, url)
                    elif resp.status != 200:
                        log.error("%s: REST %d from %s: %s", self.market, resp.status, url, body[:300])
                        return None
                    else:
                        data = orjson.loads(body)
                        return data if isinstance(data, list) else None
            except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
                log.warning("%s: REST %s failed: %s", self.market, url, exc)
            await asyncio.sleep(delay)
        return None

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
            for symbol in self.settings.symbols:
                since = self.last_seen.get(symbol, self.connected_since)
                if now - since >= self.tuning.silence_alarm_seconds and symbol not in self.alarmed:
                    self.alarmed.add(symbol)
                    self.metrics.silent.labels(self.market, symbol).set(1)
                    self.metrics.silent_alarms.labels(self.market, symbol).inc()
                    log.warning("%s %s: subscribed stream %s silent for %.0fs (USD-M needs the /market path)",
                                self.market, symbol, self.spec.stream_name(symbol), now - since)


def _retry_after(header: str | None, fallback: float, cap: float) -> float:
    try:
        return min(cap, max(0.0, float(header))) if header is not None else fallback
    except ValueError:
        return fallback


async def live_trades(settings: IngestSettings, metrics: IngestMetrics | None = None,
                      tuning: FeedTuning | None = None) -> AsyncIterator[Record]:
    """Trades (and rejects) of ``settings.symbols`` on ``settings.markets`` from Binance, until closed.

    Per (market, symbol) the trade ids come out strictly increasing and, once backfilled, contiguous.
    Close it with ``aclose()`` (or ``contextlib.aclosing``) to stop its connections.
    """
    metrics = metrics or IngestMetrics()
    tuning = tuning or FeedTuning()
    out: asyncio.Queue[Record | _Crash] = asyncio.Queue(maxsize=tuning.queue_size)
    async with aiohttp.ClientSession() as http:
        feeds = [MarketFeed(settings, Binance.market(m), out, http, metrics, tuning) for m in settings.markets]
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

