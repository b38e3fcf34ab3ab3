"""Per-symbol trade ids of one market: de-duplication, gap detection and REST backfill.

Where a venue's ids are consecutive per symbol, an id above ``last + 1`` is a gap: the missing ids are
fetched over REST (``VenueMarket.backfill_request``) and emitted in order before the trade that revealed it.
An id at or below the last emitted one is a duplicate (a reconnect overlap) and is dropped, unless a failed
backfill left it missing. Memory per symbol: the last id plus a bounded set of missing ids.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from argos.contract import Record, Reject, Trade
from argos_ingest.metrics import IngestMetrics
from argos_ingest.venues import VenueMarket

log = logging.getLogger(__name__)

Emit = Callable[[Record], Awaitable[None]]
FetchRows = Callable[[str, dict[str, str]], Awaitable[list[Any] | None]]


class SymbolIds:
    """Last emitted id of one symbol, plus ids a failed backfill left missing (bounded)."""

    __slots__ = ("last", "missing")

    def __init__(self) -> None:
        self.last: int | None = None
        self.missing: set[int] = set()


class Sequencer:
    """Turns one market's trades, in arrival order, into a strictly increasing, gap-filled id stream."""

    def __init__(self, venue: VenueMarket, emit: Emit, fetch: FetchRows, metrics: IngestMetrics,
                 missing_window: int) -> None:
        self.venue = venue
        self.market = venue.market
        self.emit = emit
        self.fetch = fetch
        self.metrics = metrics
        self.missing_window = missing_window
        self.ids: dict[str, SymbolIds] = {}

    async def accept(self, trade: Trade) -> None:
        ids = self.ids.setdefault(trade.symbol, SymbolIds())
        in_order = ids.last is None or trade.trade_id == ids.last + 1
        if in_order or (not self.venue.consecutive_ids and trade.trade_id > ids.last):  # no gap detection there
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
            log.info("%s %s: gap %d..%d, backfilling", self.market, trade.symbol, ids.last + 1, trade.trade_id - 1)
            await self._backfill(trade.symbol, ids, trade.trade_id - 1)
            ids.last = trade.trade_id
            await self.emit(trade)

    async def _backfill(self, symbol: str, ids: SymbolIds, until: int) -> None:
        """Emit ids ``last+1 .. until`` from REST; what cannot be fetched is remembered as missing."""
        assert ids.last is not None
        next_id = ids.last + 1
        while next_id <= until:
            request = self.venue.backfill_request(symbol, next_id, min(self.venue.backfill_limit, until - next_id + 1))
            progressed = False
            for row in await self.fetch(request.url, request.params) or []:
                record = self.venue.parse_backfill(row, symbol)
                if isinstance(record, Reject):
                    await self.emit(record)
                    continue
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
