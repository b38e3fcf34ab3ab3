"""Per-symbol trade ids of one market: de-duplication, gap detection and REST backfill.

Where a venue's ids are consecutive per symbol, an id above ``last + 1`` is a gap: the missing ids are
fetched over REST (``VenueMarket.backfill_request``) and emitted in order before the trade that revealed it.
The backfill runs as a task of its own, off the live path: the other symbols keep streaming, and that
symbol's live trades wait in a bounded buffer (past the bound they are left to REST: the next gap fetches
them). A gap larger than ``horizon`` ids is backfilled for its newest ``horizon`` ids; the older ones, and
ids REST could not return, are counted as unrecoverable. An id at or below the last emitted one is a
duplicate (a reconnect overlap) and is dropped, unless a failed backfill left it missing (remembered for
``missing_ttl`` seconds, bounded) or it lies far below the last id with a newer trade time: the venue reset
its ids, which is logged, counted and re-seeds the symbol. ``seed`` starts a symbol after a stored id.

A venue whose ids are opaque (Bybit: UUIDs) gets no gap detection: its trades are only de-duplicated, against
a bounded window of recently emitted ids. A venue that aggregates fills (OKX) says which id a record starts at
(``venues.base.first_id``); backfill rows are taken in id order whatever order the venue returns them in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from argos.contract import Record, Reject, Trade
from argos_ingest.metrics import IngestMetrics
from argos_ingest.venues import VenueMarket
from argos_ingest.venues.base import BackfillRequest, first_id, metric_label

log = logging.getLogger(__name__)

Emit = Callable[[Record], Awaitable[None]]
FetchRows = Callable[[BackfillRequest], Awaitable[list[Any] | None]]
Spawn = Callable[[Coroutine[Any, Any, None]], Any]
RESET_DISTANCE = 1_000  # ids below the last one that, with a newer trade time, mean the venue reset its ids


class SymbolIds:
    """Last emitted id (and its trade time) of one symbol, ids a failed backfill left missing (bounded, with
    their expiry), and the live trades buffered while a backfill runs."""

    __slots__ = ("backfilling", "buffer", "last", "last_time", "missing")

    def __init__(self) -> None:
        self.last: int | None = None
        self.last_time = 0
        self.missing: dict[int, float] = {}
        self.backfilling = False
        self.buffer: deque[Trade] = deque()


class RecentIds:
    """The last ``size`` ids emitted for one symbol of a venue with opaque ids."""

    __slots__ = ("order", "seen", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[int] = deque()
        self.seen: set[int] = set()

    def add(self, trade_id: int) -> bool:
        """True when the id is new (and now remembered), False for a duplicate."""
        if trade_id in self.seen:
            return False
        self.seen.add(trade_id)
        self.order.append(trade_id)
        if len(self.order) > self.size:
            self.seen.discard(self.order.popleft())
        return True


class Sequencer:
    """Turns one market's trades, in arrival order, into a strictly increasing, gap-filled id stream."""

    def __init__(self, venue: VenueMarket, emit: Emit, fetch: FetchRows, metrics: IngestMetrics,
                 missing_window: int, horizon: int = 100_000, buffer_limit: int = 10_000,
                 missing_ttl: float = 600.0, spawn: Spawn | None = None) -> None:
        self.venue = venue
        self.market = metric_label(venue)
        self.emit = emit
        self.fetch = fetch
        self.metrics = metrics
        self.missing_window = missing_window
        self.horizon = horizon
        self.buffer_limit = buffer_limit
        self.missing_ttl = missing_ttl
        self.spawn: Spawn = spawn or asyncio.ensure_future
        self.ids: dict[str, SymbolIds] = {}
        self.recent: dict[str, RecentIds] = {}

    def seed(self, symbol: str, last_id: int) -> None:
        """Continue ``symbol`` after ``last_id`` (already stored): the first live id above it is a gap."""
        if self.venue.consecutive_ids:
            self.ids.setdefault(symbol, SymbolIds()).last = last_id

    def busy(self, symbol: str) -> bool:
        ids = self.ids.get(symbol)
        return ids is not None and ids.backfilling

    async def accept(self, trade: Trade) -> None:
        if not self.venue.consecutive_ids:  # opaque ids: de-duplicate only, no gap detection
            if self.recent.setdefault(trade.symbol, RecentIds(self.missing_window)).add(trade.trade_id):
                await self.emit(trade)
            else:
                self.metrics.duplicates.labels(self.market, trade.symbol).inc()
            return
        ids = self.ids.setdefault(trade.symbol, SymbolIds())
        if ids.backfilling:
            if len(ids.buffer) < self.buffer_limit:
                ids.buffer.append(trade)  # past the bound: left to REST, the next gap fetches it
            return
        gap = await self._next(trade, ids)
        if gap is not None:
            ids.backfilling = True
            ids.buffer.append(trade)
            self.spawn(self._backfill_then_drain(trade.symbol, ids, gap))

    async def _next(self, trade: Trade, ids: SymbolIds) -> int | None:
        """Emit or drop one live trade; return the last missing id when it reveals a gap (not emitted yet)."""
        first = first_id(self.venue, trade)
        if ids.last is None or (first <= ids.last + 1 and trade.trade_id > ids.last):
            await self._out(trade, ids)
        elif trade.trade_id <= ids.last:
            self._expire(ids)
            if ids.missing.pop(trade.trade_id, None) is not None:  # late copy of an id a backfill could not get
                self.metrics.late.labels(self.market, trade.symbol).inc()
                await self.emit(trade)
            elif ids.last - trade.trade_id > RESET_DISTANCE and trade.trade_time > ids.last_time:
                self.metrics.resets.labels(self.market, trade.symbol).inc()
                log.error("%s %s: trade ids reset (%d after %d, with a newer trade time); re-seeded", self.market,
                          trade.symbol, trade.trade_id, ids.last)
                ids.missing.clear()
                ids.last = None
                await self._out(trade, ids)
            else:
                self.metrics.duplicates.labels(self.market, trade.symbol).inc()
        else:
            self.metrics.gaps.labels(self.market, trade.symbol).inc()
            return first - 1
        return None

    async def _out(self, trade: Trade, ids: SymbolIds) -> None:
        ids.last, ids.last_time = trade.trade_id, trade.trade_time
        await self.emit(trade)

    async def _backfill_then_drain(self, symbol: str, ids: SymbolIds, until: int) -> None:
        """Fill the gap, then the trades buffered meanwhile (which may reveal the next gap), off the live path."""
        try:
            gap: int | None = until
            while True:
                if gap is not None:
                    await self._backfill(symbol, ids, gap)
                if not ids.buffer:
                    break
                gap = await self._next(ids.buffer[0], ids)
                if gap is None:
                    ids.buffer.popleft()
        finally:
            ids.backfilling = False

    async def _backfill(self, symbol: str, ids: SymbolIds, until: int) -> None:
        """Emit ids ``last+1 .. until`` from REST (the newest ``horizon`` of them); count what cannot be had."""
        assert ids.last is not None
        if until - ids.last > self.horizon:
            lost = until - ids.last - self.horizon
            self.metrics.unrecoverable.labels(self.market, symbol).inc(lost)
            log.error("%s %s: %d ids %d..%d are beyond the backfill horizon (%d); unrecoverable", self.market,
                      symbol, lost, ids.last + 1, ids.last + lost, self.horizon)
            ids.last += lost
        log.info("%s %s: gap %d..%d, backfilling", self.market, symbol, ids.last + 1, until)
        next_id = ids.last + 1
        while next_id <= until:
            request = self.venue.backfill_request(symbol, next_id, min(self.venue.backfill_limit, until - next_id + 1))
            progressed = False
            records = []
            for row in await self.fetch(request) or []:
                record = self.venue.parse_backfill(row, symbol)
                if isinstance(record, Reject):
                    await self.emit(record)
                else:
                    records.append(record)
            for record in sorted(records, key=lambda r: r.trade_id):  # some venues page newest first
                if record.trade_id < next_id or record.trade_id > until:
                    continue
                self._remember_missing(ids, symbol, next_id, record.trade_id - 1)
                next_id = record.trade_id + 1
                self.metrics.backfilled.labels(self.market, symbol).inc()
                await self._out(record, ids)
                progressed = True
            if not progressed:
                break
        if next_id <= until:
            self.metrics.backfill_failures.labels(self.market, symbol).inc()
            log.error("%s %s: could not backfill ids %d..%d", self.market, symbol, next_id, until)
            self._remember_missing(ids, symbol, next_id, until)
        ids.last = max(ids.last, until)

    def _remember_missing(self, ids: SymbolIds, symbol: str, first: int, last: int) -> None:
        """Count ids ``first..last`` as unrecoverable; remember the newest (bounded) in case a late copy comes."""
        if last < first:
            return
        self.metrics.unrecoverable.labels(self.market, symbol).inc(last - first + 1)
        self._expire(ids)
        room = self.missing_window - len(ids.missing)
        deadline = time.monotonic() + self.missing_ttl
        for trade_id in range(max(first, last - room + 1), last + 1) if room > 0 else ():
            ids.missing[trade_id] = deadline

    def _expire(self, ids: SymbolIds) -> None:
        if ids.missing and next(iter(ids.missing.values())) < time.monotonic():  # oldest first (insertion order)
            now = time.monotonic()
            ids.missing = {i: t for i, t in ids.missing.items() if t >= now}
