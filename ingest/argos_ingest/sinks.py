"""Where ingested records go: a Kafka topic (cluster) or a spool directory (embedded default).

Both take wire-format records through the same small interface, like cryptofeed's backends. ``send`` never
blocks: a sink that cannot take more raises :class:`SinkFull` and the caller waits (off its event loop) with
``wait_for_room``. A record the sink could not deliver raises :class:`DeliveryError` from the next call:
the ingest stops rather than count as ingested what was lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from argos.contract import Record, Trade, encode
from argos.settings import KafkaSettings

log = logging.getLogger(__name__)


class SinkFull(Exception):
    """The sink holds its maximum of undelivered records; wait with ``wait_for_room`` and send again."""


class DeliveryError(ConnectionError):
    """Records were not delivered; the message says how many and what to do."""


class Sink(Protocol):
    def send(self, record: Record) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable: the directory entry itself must reach the disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolSink:
    """Rotated JSONL files, each written under a temporary name and renamed when complete.

    Readers (Spark's file source) only ever see whole files: ``*.jsonl`` appear atomically by rename
    from ``.*.jsonl.tmp``, which the file source ignores because it starts with a dot.
    """

    def __init__(self, directory: Path, max_records: int = 5_000, max_seconds: float = 0.5,
                 positions_file: Path | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".*.jsonl.tmp"):  # a crash mid-write left it; its records were resent
            stale.unlink(missing_ok=True)
        self.max_records = max_records
        self.max_seconds = max_seconds
        self.positions_file = positions_file
        self.positions: dict[tuple[str, str, str], int] = {}
        self._pending: dict[tuple[str, str, str], int] = {}
        self._lines: list[bytes] = []
        self._opened = time.monotonic()
        self._lock = threading.RLock()  # the pump flushes from a worker thread while the loop sends

    def send(self, record: Record) -> None:
        line = encode(record)
        with self._lock:
            self._lines.append(line)
            if isinstance(record, Trade):
                self._pending[(record.venue, record.market, record.symbol)] = record.trade_id
            if len(self._lines) >= self.max_records or time.monotonic() - self._opened >= self.max_seconds:
                self.flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if not self._lines:
            self._opened = time.monotonic()
            return
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.jsonl"
        tmp = self.directory / f".{name}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(b"\n".join(self._lines) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            tmp.rename(self.directory / name)
            _fsync_dir(self.directory)
            if self.positions_file is not None and self._pending:
                from argos_ingest.resume import merge, write_positions

                write_positions(self.positions_file, merge(self.positions, self._pending))
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OSError(
                exc.errno, f"cannot write spool dir {self.directory}: {exc.strerror}. "
                "Fix: free disk space or point ARGOS_DATA_DIR / --data-dir at a writable directory"
            ) from exc
        self._lines.clear()
        self._pending.clear()
        self._opened = time.monotonic()

    def close(self) -> None:
        self.flush()


# Delivery and batching of every trade producer (kafka-python's names; the same as Kafka's with "." for "_"):
# nothing lost or doubled on retries, per-symbol order kept, lz4 batches of up to 256 KiB after 20 ms.
PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all", "enable_idempotence": True, "retries": 2**31 - 1, "max_in_flight_requests_per_connection": 5,
    "compression_type": "lz4", "linger_ms": 20, "batch_size": 256 * 1024,
}


class KafkaSink:
    """Idempotent, acks=all producer keyed by venue:symbol so each symbol stays ordered.

    Every send's outcome is checked: a record Kafka refused or that expired (``kafka.delivery_timeout_ms``)
    is counted and raises :class:`DeliveryError` from the next ``send``/``flush``. At most ``max_in_flight``
    records wait for their acknowledgement; beyond that ``send`` raises :class:`SinkFull`. ``check_topic``
    first makes sure the topic exists (:func:`ensure_topic`).
    """

    def __init__(self, cfg: KafkaSettings, check_topic: bool = True, max_in_flight: int = 100_000,
                 on_failure: Callable[[int], None] = lambda n: None) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        from argos_ingest.partitioner import KeyPartitioner

        if check_topic:
            ensure_topic(cfg)
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=cfg.bootstrap.split(","),
                security_protocol=cfg.security_protocol,
                **PRODUCER_SETTINGS,
                partitioner=KeyPartitioner(),
                delivery_timeout_ms=cfg.delivery_timeout_ms,
                request_timeout_ms=min(30_000, cfg.delivery_timeout_ms - 100),
                max_block_ms=cfg.delivery_timeout_ms,
            )
        except KafkaError:
            raise ConnectionError(_no_broker(cfg)) from None
        self.topic = cfg.topic
        self.delivery_timeout = cfg.delivery_timeout_ms / 1000
        self.max_in_flight = max_in_flight
        self.on_failure = on_failure
        self.in_flight = 0
        self.failed = 0
        self.first_error: BaseException | None = None
        self._lock = threading.Lock()  # the counters change on this thread and on the producer's I/O thread

    def send(self, record: Record) -> None:
        self._send(encode(record), record.key)

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send bytes as they are (tests and benchmarks feed malformed payloads this way)."""
        self._send(value, key)

    def _send(self, value: bytes, key: bytes | None) -> None:
        self.check()
        with self._lock:
            if self.in_flight >= self.max_in_flight:
                raise SinkFull(f"{self.in_flight} records await Kafka's acknowledgement")
            self.in_flight += 1
        try:
            future = self._producer.send(self.topic, value=value, key=key)
        except Exception as exc:
            self._failed(exc)
            self.check()
            raise
        future.add_callback(self._delivered).add_errback(self._failed)  # bound methods: no closure per record

    def _delivered(self, _metadata: object) -> None:
        with self._lock:
            self.in_flight -= 1

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            self.in_flight -= 1
            self.failed += 1
            self.first_error = self.first_error or error
        log.error("Kafka did not take a record: %s", error)
        self.on_failure(1)

    def check(self) -> None:
        """Raise :class:`DeliveryError` once any record was not delivered."""
        if self.failed:
            raise DeliveryError(
                f"{self.failed} record(s) not delivered to Kafka topic {self.topic} ({self.first_error}); the ingest "
                "stops instead of losing them silently. Fix: bring the brokers back (or raise "
                "ARGOS_KAFKA__DELIVERY_TIMEOUT_MS); a restart resumes after the topic's last record and backfills."
            )

    def wait_for_room(self, timeout: float = 1.0) -> None:
        """Block (in a worker thread, not the event loop) until a send can go, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while self.in_flight >= self.max_in_flight and not self.failed and time.monotonic() < deadline:
            time.sleep(0.005)  # polled: a wake-up per acknowledged record cost more than the whole send
        self.check()

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every record sent so far (at most the delivery timeout and a margin), then ``check``."""
        from kafka.errors import KafkaTimeoutError

        try:
            self._producer.flush(timeout if timeout is not None else self.delivery_timeout + 2)
        except KafkaTimeoutError:
            with self._lock:
                self.failed += self.in_flight  # unacknowledged past the delivery timeout: count them as lost
                self.first_error = self.first_error or TimeoutError(f"{self.in_flight} records unacknowledged")
            self.on_failure(self.in_flight)
        self.check()

    def close(self) -> None:
        try:
            if not self.failed:  # after a failure the ingest stops now: nothing more is worth waiting for
                self.flush()
        finally:
            self._producer.close(timeout=5)


def _no_broker(cfg: KafkaSettings) -> str:
    return (
        f"no Kafka broker answers at kafka.bootstrap={cfg.bootstrap!r}. "
        "Fix: start Kafka or set ARGOS_KAFKA__BOOTSTRAP to a reachable host:port."
    )


def ensure_topic(cfg: KafkaSettings, wait_seconds: float = 120.0) -> None:
    """Create the trades topic if it does not exist (idempotent); with ``kafka.create_topic`` false, wait for it."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=cfg.bootstrap.split(","), security_protocol=cfg.security_protocol,
            request_timeout_ms=10_000, bootstrap_timeout_ms=10_000,
        )
    except KafkaError:
        raise ConnectionError(_no_broker(cfg)) from None
    try:
        if cfg.topic in admin.list_topics():
            return
        if cfg.create_topic:
            admin.create_topics(
                [NewTopic(cfg.topic, num_partitions=cfg.partitions, replication_factor=cfg.replication_factor)]
            )
            log.info("created topic %s (%d partitions)", cfg.topic, cfg.partitions)
            return
        log.info("waiting up to %.0f s for topic %s (kafka.create_topic is false: its owner creates it)",
                 wait_seconds, cfg.topic)
        deadline = time.monotonic() + wait_seconds
        while cfg.topic not in admin.list_topics():
            if time.monotonic() > deadline:
                raise ConnectionError(
                    f"topic {cfg.topic!r} (kafka.topic) still does not exist after {wait_seconds:.0f} s, and "
                    "kafka.create_topic is false. Fix: create it (on Kubernetes: kubectl get kafkatopic, and see "
                    "Strimzi's Topic Operator) or set ARGOS_KAFKA__CREATE_TOPIC=true."
                )
            time.sleep(min(2.0, wait_seconds / 10))
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def make_sink(kind: str, spool_dir: Path, kafka: KafkaSettings, positions_file: Path | None = None,
              on_failure: Callable[[int], None] = lambda n: None) -> Sink:
    if kind == "kafka":
        return KafkaSink(kafka, on_failure=on_failure)
    return SpoolSink(spool_dir, positions_file=positions_file)
