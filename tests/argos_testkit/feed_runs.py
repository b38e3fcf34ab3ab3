"""Run the live feed against a fake exchange until a condition holds (for the feed tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from argos.contract import Record
from argos.settings import IngestSettings
from argos_ingest.feed import FeedTuning, live_trades
from argos_ingest.metrics import IngestMetrics


async def drain(settings: IngestSettings, metrics: IngestMetrics, tuning: FeedTuning,
                done: Callable[[list[Record]], bool], limit: float = 40.0) -> list[Record]:
    """Run the feed until ``done(records)`` (or fail after ``limit`` seconds); the records it emitted."""
    records: list[Record] = []

    async def consume() -> None:
        async with contextlib.aclosing(live_trades(settings, metrics, tuning)) as feed:
            async for record in feed:
                records.append(record)
                if done(records):
                    return

    await asyncio.wait_for(consume(), limit)
    return records
