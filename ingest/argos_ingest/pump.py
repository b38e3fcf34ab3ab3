"""Ingest: move records from a source (Binance live, a dump replay, the synthetic market) to a sink."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from argos.contract import Record
from argos.settings import Settings
from argos_ingest.metrics import IngestMetrics
from argos_ingest.resume import POSITIONS_FILE
from argos_ingest.sinks import Sink, SinkFull, make_sink

log = logging.getLogger("argos_ingest.pump")


def open_source(settings: Settings, metrics: IngestMetrics | None = None) -> AsyncIterator[Record]:
    """The configured source as an async stream of trades and rejects."""
    cfg = settings.ingest
    if cfg.source in ("binance", "live"):
        from argos_ingest.feed import live_trades
        from argos_ingest.resume import stored_positions

        seeds = stored_positions(settings) if cfg.resume else {}
        return live_trades(cfg, metrics, seeds=seeds)  # the feed reports its own per-connection metrics
    if cfg.source == "synthetic" and cfg.venues != ["binance"]:  # the market spread over the chosen venues
        from argos_ingest.multivenue import multi_venue_trades

        pairs = [s for s in cfg.symbols if ":" not in s]
        source = multi_venue_trades(pairs, cfg.venues, cfg.rate, seed=cfg.seed,
                                    whale_quote=settings.whale_threshold_usd)
    elif cfg.source == "synthetic":
        from argos_ingest.synthetic import synthetic_trades

        source = synthetic_trades(cfg.symbols, cfg.rate, seed=cfg.seed, whale_quote=settings.whale_threshold_usd)
    elif not cfg.replay_path:
        raise ValueError("ingest.source=replay needs a file. Fix: set ARGOS_INGEST__REPLAY_PATH or --replay FILE.")
    elif cfg.venues[0] in ("bybit", "okx"):  # the venue's own trade files
        from argos_ingest.venue_replay import replay_venue_trades

        market = next((m.split(":")[-1] for m in cfg.markets if m.split(":")[-1] != "spot"), "")
        source = replay_venue_trades(Path(cfg.replay_path), cfg.venues[0], market, cfg.replay_symbol)
    else:
        from argos_ingest.replay import replay_trades

        source = replay_trades(Path(cfg.replay_path), cfg.replay_symbol or None, cfg.replay_speed,
                               cfg.replay_market or None)  # empty: the dump's own market (layout, header, name)
    return _observed(source, metrics) if metrics else source


async def _observed(source: AsyncIterator[Record], metrics: IngestMetrics) -> AsyncIterator[Record]:
    async for record in source:
        metrics.observe(record, getattr(record, "market", "spot"))
        yield record


class IngestStats:
    """Counters the CLI shows while ingest runs; the rate covers the time records flowed, not idle time after."""

    def __init__(self) -> None:
        self.records = 0
        self.started = time.monotonic()
        self.last_record = self.started

    def add(self, n: int = 1) -> None:
        self.records += n
        self.last_record = time.monotonic()

    @property
    def rate(self) -> float:
        return self.records / max(self.last_record - self.started, 1e-9)


async def pump(
    source: AsyncIterator[Record], sink: Sink, stop: threading.Event, stats: IngestStats | None = None,
    flush_every: float = 0.5,
) -> None:
    """Send every record of ``source`` to ``sink`` until the source ends or ``stop`` is set.

    A watcher flushes the sink while the source is quiet and cancels the loop when ``stop`` is set.
    """
    stats = stats or IngestStats()

    async def forward() -> None:
        async for record in source:
            await _send(sink, record)
            stats.add()

    task = asyncio.ensure_future(forward())
    try:
        while not task.done():
            await asyncio.wait([task], timeout=flush_every)
            await asyncio.to_thread(sink.flush)  # a broker outage must not freeze the feed's keep-alive
            if stop.is_set():
                task.cancel()
        if not task.cancelled() and task.exception():
            raise task.exception()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # the source's connections close before the sink
        await asyncio.to_thread(sink.close)
        log.info("ingest stopped after %d records", stats.records)


async def _send(sink: Sink, record: Record) -> None:
    """``sink.send`` without blocking the loop: when the sink is full, wait for room in a worker thread."""
    while True:
        try:
            sink.send(record)
            return
        except SinkFull:
            await asyncio.to_thread(sink.wait_for_room)  # type: ignore[attr-defined]


def run_ingest(
    settings: Settings, stop: threading.Event, stats: IngestStats | None = None, metrics: IngestMetrics | None = None
) -> None:
    """Blocking ingest loop (its own event loop), for a thread or the ``argos ingest`` command."""
    on_failure = metrics.delivery_failed if metrics else (lambda n: None)
    sink = make_sink(settings.ingest.sink, settings.spool_dir, settings.kafka,
                     positions_file=settings.data_dir / POSITIONS_FILE, on_failure=on_failure)
    asyncio.run(pump(open_source(settings, metrics), sink, stop, stats))
