"""Per-symbol trade ids of one market: de-duplication, gap detection and REST backfill.

Where a venue's ids are consecutive per symbol, an id above ``last + 1`` is a gap: the missing ids are
fetched over REST (``VenueMarket.backfill_request``) and emitted in order before the trade that revealed it.
An id at or below the last emitted one is a duplicate (a reconnect overlap) and is dropped, unless a failed
backfill left it missing. Memory per symbol: the last id plus a bounded set of missing ids.

A venue whose ids are opaque (Bybit: UUIDs) gets no gap detection: its trades are only de-duplicated, against
a bounded window of recently emitted ids. A venue that aggregates fills (OKX) says which id a record starts at
(``venues.base.first_id``); backfill rows are taken in id order whatever order the venue returns them in.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from argos.contract import Record, Reject, Trade
from argos_ingest.metrics import IngestMetrics
from argos_ingest.venues import VenueMarket
from argos_ingest.venues.base import first_id, metric_label

log = logging.getLogger(__name__)

Emit = Callable[[Record], Awaitable[None]]
FetchRows = Callable[[str, dict[str, str]], Awaitable[list[Any] | None]]


class SymbolIds:
    """Last emitted id of one symbol, plus ids a failed backfill left missing (bounded)."""

    __slots__ = ("last", "missing")

    def __init__(self) -> None:
        self.last: int | None = None
        self.missing: set[int] = set()


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
                 missing_window: int) -> None:
        self.venue = venue
        self.market = metric_label(venue)
        self.emit = emit
        self.fetch = fetch
        self.metrics = metrics
        self.missing_window = missing_window
        self.ids: dict[str, SymbolIds] = {}
        self.recent: dict[str, RecentIds] = {}

    async def accept(self, trade: Trade) -> None:
        if not self.venue.consecutive_ids:  # opaque ids: de-duplicate only, no gap detection
            if self.recent.setdefault(trade.symbol, RecentIds(self.missing_window)).add(trade.trade_id):
                await self.emit(trade)
            else:
                self.metrics.duplicates.labels(self.market, trade.symbol).inc()
            return
        ids = self.ids.setdefault(trade.symbol, SymbolIds())
        first = first_id(self.venue, trade)
        if ids.last is None or (first <= ids.last + 1 and trade.trade_id > ids.last):
            ids.last = trade.trade_id
            await self.emit(trade)
        elif trade.trade_id <= ids.last:
            if trade.trade_id in ids.missing:  # late copy of an id a failed backfill could not get
                ids.missing.discard(trade.trade_id)
                await self.emit(trade)
            else:
                self.metrics.duplicates.labels(self.market, trade.symbol).inc()
        else:
            self.metrics.gaps.labels(self.market, trade.symbol).inc()
            log.info("%s %s: gap %d..%d, backfilling", self.market, trade.symbol, ids.last + 1, first - 1)
            await self._backfill(trade.symbol, ids, first - 1)
            ids.last = trade.trade_id
            await self.emit(trade)

    async def _backfill(self, symbol: str, ids: SymbolIds, until: int) -> None:
        """Emit ids ``last+1 .. until`` from REST; what cannot be fetched is remembered as missing."""
        assert ids.last is not None
        next_id = ids.last + 1
        while next_id <= until:
            request = self.venue.backfill_request(symbol, next_id, min(self.venue.backfill_limit, until - next_id + 1))
            progressed = False
            records = []
            for row in await self.fetch(request.url, request.params) or []:
                record = self.venue.parse_backfill(row, symbol)
                if isinstance(record, Reject):
                    await self.emit(record)
                else:
                    records.append(record)
            for record in sorted(records, key=lambda r: r.trade_id):  # some venues page newest first
                if record.trade_id < next_id or record.trade_id > until:
                    continue
                self._remember_missing(ids, next_id, record.trade_id - 1)
                next_id = record.trade_id + 1
                ids.last = record.trade_id
                self.metrics.backfilled.labels(self.market, symbol).inc()
                await self.emit(record)
                progressed = True
            if not progressed:
                break
        if next_id <= until:
            self.metrics.backfill_failures.labels(self.market, symbol).inc()
            log.error("%s %s: could not backfill ids %d..%d", self.market, symbol, next_id, until)
            self._remember_missing(ids, next_id, until)

    def _remember_missing(self, ids: SymbolIds, first: int, last: int) -> None:
        room = self.missing_window - len(ids.missing)
        if last >= first and room > 0:
            ids.missing.update(range(max(first, last - room + 1), last + 1))
