"""Where each symbol's data stops: the newest trade id already stored, so a restart resumes (and backfills).

Three places can know it, and the ingest takes the highest id any of them holds:

* the Kafka topic: the last record of each key (``venue:symbol``) in the tail of its partition;
* ClickHouse (a server, or an embedded database no other process holds): ``max(trade_id)`` per symbol;
* the spool's positions file, written by :class:`~argos_ingest.sinks.SpoolSink` after each file it renames.

A restart then sees the first live id above the seed as a gap and backfills it over REST, bounded by
``ingest.backfill_horizon``. Nothing found (a first start) means no seed: the feed starts live.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argos.settings import KafkaSettings, Settings

log = logging.getLogger(__name__)

Positions = dict[tuple[str, str, str], int]  # (venue, market, symbol) -> newest stored trade id
POSITIONS_FILE = "ingest-positions.json"
KAFKA_TAIL = 20_000  # records read back per partition to find each key's last record


def merge(into: Positions, more: Positions) -> Positions:
    for key, trade_id in more.items():
        if trade_id > into.get(key, -1):
            into[key] = trade_id
    return into


def kafka_positions(cfg: KafkaSettings, tail: int = KAFKA_TAIL, timeout_ms: int = 10_000) -> Positions:
    """Newest trade id per key among the last ``tail`` records of each partition of the topic."""
    from kafka import KafkaConsumer, TopicPartition

    from argos.contract import decode_trade

    consumer = KafkaConsumer(bootstrap_servers=cfg.bootstrap.split(","), security_protocol=cfg.security_protocol,
                             enable_auto_commit=False, request_timeout_ms=timeout_ms + 1)
    found: Positions = {}
    try:
        partitions = consumer.partitions_for_topic(cfg.topic) or set()
        parts = [TopicPartition(cfg.topic, p) for p in sorted(partitions)]
        if not parts:
            return found
        ends, begins = consumer.end_offsets(parts), consumer.beginning_offsets(parts)
        parts = [tp for tp in parts if ends[tp] > begins[tp]]
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, max(begins[tp], ends[tp] - tail))
        remaining = {tp: ends[tp] for tp in parts}
        while remaining:
            batch = consumer.poll(timeout_ms=timeout_ms, max_records=5_000)
            if not batch:
                break
            for tp, messages in batch.items():
                for message in messages:
                    try:
                        trade = decode_trade(message.value)
                    except (ValueError, KeyError, TypeError):
                        continue  # a reject or a foreign payload: not a position
                    merge(found, {(trade.venue, trade.market, trade.symbol): trade.trade_id})
                if messages and messages[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
    finally:
        consumer.close()
    return found


def clickhouse_positions(settings: Settings, client=None) -> Positions:
    """``max(trade_id)`` per symbol traded in the last two days (older: nothing a REST backfill could reach);
    empty when the database is unreachable, or embedded and not handed over (the ETL owns it)."""
    from argos.clickhouse import connect

    if client is None and settings.embedded:
        return {}  # opening the embedded engine would take it from the ETL for as long as the ingest runs
    db = settings.clickhouse.database
    try:
        own = client is None
        client = client or connect(settings.clickhouse_url, settings.clickhouse)
        try:
            rows = client.query(f"SELECT venue, market, symbol, max(trade_id) FROM {db}.trades "  # sort key prunes
                                "WHERE trade_time > now() - INTERVAL 2 DAY GROUP BY venue, market, symbol").result_rows
        finally:
            if own and not settings.embedded:
                client.close()
    except Exception as exc:  # no database yet, or the ETL owns the embedded one: other sources still count
        log.info("resume: no positions from ClickHouse (%s)", str(exc).splitlines()[0][:200])
        return {}
    return {(str(v), str(m), str(s)): int(i) for v, m, s, i in rows}


def file_positions(path: Path) -> Positions:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {tuple(key.split("|", 2)): int(value) for key, value in data.items()}  # type: ignore[misc]


def write_positions(path: Path, positions: Positions) -> None:
    """Atomically replace the positions file (fsynced before the rename)."""
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        json.dump({"|".join(key): value for key, value in positions.items()}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def stored_positions(settings: Settings, client=None) -> Positions:
    """The newest stored trade id per (venue, market, symbol), from every place that can know it."""
    found: Positions = {}
    if settings.ingest.sink == "kafka":
        try:
            merge(found, kafka_positions(settings.kafka))
        except Exception as exc:
            log.warning("resume: cannot read the tail of %s (%s)", settings.kafka.topic, exc)
    else:
        merge(found, file_positions(settings.data_dir / POSITIONS_FILE))
    merge(found, clickhouse_positions(settings, client))
    if found:
        log.info("resume: continuing after %s", ", ".join(f"{m} {s} #{i}" for (_, m, s), i in sorted(found.items())))
    return found
