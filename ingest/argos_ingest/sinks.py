"""Where ingested records go: a Kafka topic (cluster) or a spool directory (embedded default).

Both take wire-format records through the same small interface, like cryptofeed's backends.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Protocol

from argos.contract import Record, encode
from argos.settings import KafkaSettings

log = logging.getLogger(__name__)


class Sink(Protocol):
    def send(self, record: Record) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class SpoolSink:
    """Rotated JSONL files, each written under a temporary name and renamed when complete.

    Readers (Spark's file source) only ever see whole files: ``*.jsonl`` appear atomically by rename
    from ``.*.jsonl.tmp``, which the file source ignores because it starts with a dot.
    """

    def __init__(self, directory: Path, max_records: int = 5_000, max_seconds: float = 0.5) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_records = max_records
        self.max_seconds = max_seconds
        self._lines: list[bytes] = []
        self._opened = time.monotonic()

    def send(self, record: Record) -> None:
        self._lines.append(encode(record))
        if len(self._lines) >= self.max_records or time.monotonic() - self._opened >= self.max_seconds:
            self.flush()

    def flush(self) -> None:
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
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OSError(
                exc.errno, f"cannot write spool dir {self.directory}: {exc.strerror}. "
                "Fix: free disk space or point ARGOS_DATA_DIR / --data-dir at a writable directory"
            ) from exc
        self._lines.clear()
        self._opened = time.monotonic()

    def close(self) -> None:
        self.flush()


class KafkaSink:
    """Idempotent, acks=all producer keyed by venue:symbol so each symbol stays ordered."""

    def __init__(self, cfg: KafkaSettings, create_topic: bool = True) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        if create_topic:
            ensure_topic(cfg)
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=cfg.bootstrap.split(","),
                security_protocol=cfg.security_protocol,
                acks="all",
                enable_idempotence=True,
                compression_type="lz4",
                linger_ms=20,
                batch_size=256 * 1024,
                retries=2**31 - 1,
                max_in_flight_requests_per_connection=5,
            )
        except KafkaError:
            raise ConnectionError(_no_broker(cfg)) from None
        self.topic = cfg.topic

    def send(self, record: Record) -> None:
        self._producer.send(self.topic, value=encode(record), key=record.key)

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send bytes as they are (tests and benchmarks feed malformed payloads this way)."""
        self._producer.send(self.topic, value=value, key=key)

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()


def _no_broker(cfg: KafkaSettings) -> str:
    return (
        f"no Kafka broker answers at kafka.bootstrap={cfg.bootstrap!r}. "
        "Fix: start Kafka or set ARGOS_KAFKA__BOOTSTRAP to a reachable host:port."
    )


def ensure_topic(cfg: KafkaSettings) -> None:
    """Create the trades topic if it does not exist (idempotent)."""
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
        if cfg.topic not in admin.list_topics():
            admin.create_topics(
                [NewTopic(cfg.topic, num_partitions=cfg.partitions, replication_factor=cfg.replication_factor)]
            )
            log.info("created topic %s (%d partitions)", cfg.topic, cfg.partitions)
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def make_sink(kind: str, spool_dir: Path, kafka: KafkaSettings) -> Sink:
    return KafkaSink(kafka) if kind == "kafka" else SpoolSink(spool_dir)
