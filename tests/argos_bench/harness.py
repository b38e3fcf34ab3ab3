"""The benchmark harness: real engines in this process (Spark local, a Kafka broker, the embedded ClickHouse),
profiles, timing helpers and the shared steps (produce, run the ETL, a count-only read) the measurements use."""


from __future__ import annotations

import contextlib
import logging
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argos.contract import Record, Trade
from argos.settings import Settings, load_settings
from argos_ingest.sinks import KafkaSink, SinkFull

log = logging.getLogger("argos_bench")

# Spark local[2] in this process (4g: the driver collects each micro-batch of a 2M-trade drain as Arrow).
SPARK_CONF = {"spark.ui.enabled": "false", "spark.driver.memory": "4g"}
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT"]


@dataclass(frozen=True)
class Profile:
    """Sizes of one run (``quick`` for CI, ``full`` for the published figures)."""

    name: str
    ingest_messages: int
    etl_trades: int
    latency_rates: tuple[int, ...]
    latency_seconds: float
    reference_insert_seconds: float
    dashboard_trades: int
    dashboard_repeats: int
    scaling: tuple[int, ...]
    scaling_trades: int
    scaling_rate: int
    realtime_seconds: float
    knee_rates: tuple[int, ...] = ()  # offered rates climbed until p99 passes 1 s
    knee_seconds: float = 20
    soak_seconds: float = 0  # a long run at 5k/s that checks memory for growth
    # (rate, seconds) offered before the first latency step: a running ETL's JVM has compiled both ways its batches
    # run (small ones interpreted, big ones as generated code; docs/benchmarks item 30)
    warm_up: tuple[tuple[int, float], ...] = ((2_000, 15),)
    etl_rounds: int = 1  # count-only, drain, drain without de-duplication: the last round is reported
    scaling_partition_trades: int = 0  # the partition points' backlog (0: scaling_trades)

    @classmethod
    def quick(cls) -> Profile:
        return cls("quick", 40_000, 100_000, (1_000,), 12, 6, 200_000, 5, (), 0, 0, 0)

    @classmethod
    def full(cls) -> Profile:
        return cls("full", 300_000, 2_000_000, (1_000, 10_000), 30, 20, 10_000_000, 20,
                   (1, 4, 16, 64, 256), 300_000, 5_000, 30,
                   knee_rates=(2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 40_000),
                   soak_seconds=600, warm_up=((2_000, 15), (10_000, 20)), etl_rounds=2,
                   scaling_partition_trades=1_200_000)


def send(sink: KafkaSink, record: Record) -> None:
    """Send as the ingest's pump does: a full sink (100k records unacknowledged) is waited on, not an error."""
    while True:
        try:
            return sink.send(record)
        except SinkFull:
            sink.wait_for_room()


def symbols_for(k: int) -> list[str]:
    return SYMBOLS[:k] if k <= len(SYMBOLS) else SYMBOLS + [f"S{i:03d}USDT" for i in range(k - len(SYMBOLS))]


def percentiles(values: list[float], qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {f"p{int(q * 100)}": float("nan") for q in qs}
    return {f"p{int(q * 100)}": ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in qs}


def machine() -> dict[str, Any]:
    mem = 0
    with contextlib.suppress(OSError, ValueError, StopIteration), open("/proc/meminfo") as fh:
        mem = int(next(line for line in fh if line.startswith("MemTotal")).split()[1]) // 1024
    import pyspark

    return {"cores": os.cpu_count(), "memory_gib": round(mem / 1024, 1), "python": platform.python_version(),
            "platform": platform.platform(), "pyspark": pyspark.__version__,
            "processor": platform.processor() or platform.machine()}


# --- Spark plumbing ------------------------------------------------------------------------------------


class TimedClient:
    """Delegates to a clickhouse-connect client and records how long each ``insert_arrow`` takes.

    Where the driver splits a big batch, this client makes the first of its concurrent inserts, which run side by
    side: the time is that insert's, about the whole write's (the others' clients are the writer's own).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self.insert_seconds = 0.0
        self.inserts = 0

    def insert_arrow(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._client.insert_arrow(*args, **kwargs)
        finally:
            self.insert_seconds += time.perf_counter() - t0
            self.inserts += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class CountingWriter:
    """Wraps the production ``ClickHouseBatchWriter``; after each batch, reads how many trades are stored.

    The count runs in the foreachBatch thread, right after the insert, so only one thread uses the client.
    """

    def __init__(self, inner: Callable[[Any, int], None], client: Any, db: str) -> None:
        self.inner, self.client, self.db = inner, client, db
        self.rows = 0
        self.batches = 0
        self.batch_seconds: list[float] = []
        self.error: BaseException | None = None

    def __call__(self, batch: Any, batch_id: int) -> None:
        t0 = time.perf_counter()
        try:
            self.inner(batch, batch_id)
        except BaseException as exc:
            self.error = exc
            raise
        self.batch_seconds.append(time.perf_counter() - t0)
        self.rows = int(self.client.query(f"SELECT count() FROM {self.db}.trades").result_rows[0][0])
        self.batches += 1


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, query: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if query is not None and not query.isActive:
            raise RuntimeError(f"{what}: the streaming query stopped: {query.exception()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f}s")
        time.sleep(0.05)


class Bench:
    """One benchmark run: a broker, a Spark session and one embedded database, shared by the measurements."""

    def __init__(self, profile: Profile, workdir: Path, progress: Callable[[str, float], None] | None = None,
                 partitions: int = 3) -> None:
        self.profile = profile
        self.workdir = workdir
        self.progress = progress or (lambda _stage, _fraction: None)
        self.partitions = partitions
        self.results: dict[str, Any] = {}
        self._stack = contextlib.ExitStack()
        self.bootstrap = ""
        self.spark: Any = None
        self.client: Any = None
        self.warm = False  # a latency run has warmed the JVM up

    # lifecycle ----------------------------------------------------------------------------------------
    def __enter__(self) -> Bench:
        from argos.clickhouse import connect
        from argos_testkit.kafka_broker import kafka_bootstrap

        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bootstrap = self._stack.enter_context(kafka_bootstrap())
        base = self.session_settings()
        self.client = connect(base.clickhouse_url, base.clickhouse)
        from argos_etl.job import spark_session

        self.spark = spark_session(base, app_name="argos-bench")
        self.spark.sparkContext.setLogLevel("ERROR")
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            for q in self.spark.streams.active:
                q.stop()
        with contextlib.suppress(Exception):
            self.spark.stop()
        self._stack.close()

    def session_settings(self) -> Settings:
        """What the run's one Spark session is built from: sized for the most Kafka partitions any measurement
        reads, as the job is for its topic (the consumer pool's capacity is fixed when the JVM starts; docs item 48)."""
        return self.settings("bench_setup", "setup", partitions=max((self.partitions, *self.profile.scaling)))

    def settings(self, db: str, topic: str, data_dir: Path | None = None, **spark: Any) -> Settings:
        """One measurement's settings; every one shares this run's embedded database, whatever its data dir."""
        return load_settings(
            data_dir=data_dir or self.workdir,
            clickhouse={"database": db, "url": f"chdb://{(self.workdir / 'clickhouse').resolve()}"},
            kafka={"bootstrap": self.bootstrap, "topic": topic,
                   "partitions": spark.pop("partitions", self.partitions)},
            spark={"source": "kafka", "master": "local[2]", "conf": SPARK_CONF,
                   "checkpoint_dir": str(self.workdir / "ck" / uuid.uuid4().hex), **spark},
        )

    def migrate(self, settings: Settings) -> None:
        """A new, empty schema: a reused ``--work-dir`` keeps an earlier run's databases, and a drain into one that
        already held its trades measured nothing (820k trades/s, the 23rd run's first attempt)."""
        from argos_schema.migrate import migrate

        self.client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database} SYNC")
        migrate(self.client, settings.clickhouse.database)

    def produce(self, settings: Settings, trades: Iterator[Trade], n: int, stage: str) -> float:
        """Send trades through the production Kafka sink; returns seconds."""
        sink = KafkaSink(settings.kafka)
        t0 = time.perf_counter()
        for i, trade in enumerate(trades):
            send(sink, trade)
            if i % 20_000 == 0:
                self.progress(stage, i / n)
        sink.close()
        return time.perf_counter() - t0

    def run_etl(self, settings: Settings, expected: int, timeout: float, stage: str) -> dict[str, Any]:
        """Start the production query (same transform, same writer) and wait until ``expected`` rows are stored."""
        from argos_etl.job import _QueryId, start
        from argos_etl.sink import ClickHouseBatchWriter

        timed = TimedClient(self.client)
        writer = CountingWriter(ClickHouseBatchWriter(settings, _QueryId(self.spark), timed),
                                self.client, settings.clickhouse.database)
        t0 = time.perf_counter()
        query = start(self.spark, settings, writer)
        try:
            def done() -> bool:
                self.progress(stage, writer.rows / max(expected, 1))
                return writer.rows >= expected

            wait_until(done, timeout, f"ETL into {settings.clickhouse.database}", query)
            seconds = time.perf_counter() - t0
        finally:
            query.stop()
        busy = sum(writer.batch_seconds)
        return {"rows": writer.rows, "seconds": seconds, "trades_per_s": writer.rows / seconds,
                "batches": writer.batches, "batch_seconds_total": busy, "insert_seconds": timed.insert_seconds,
                "spark_seconds": busy - timed.insert_seconds, "startup_and_idle_seconds": seconds - busy}

    def count_only(self, settings: Settings, expected: int, timeout: float, stage: str,
                   rows: Callable[[Any], int] = lambda df: df.count()) -> dict[str, Any]:
        """Baseline: a streaming query on the same topic with the same limits that only counts rows (``rows``: how
        a micro-batch is counted, e.g. after decoding it)."""
        from argos_etl.job import read_source

        seen = {"rows": 0, "batches": 0}

        def count(df: Any, _batch_id: int) -> None:
            seen["rows"] += rows(df)
            seen["batches"] += 1

        t0 = time.perf_counter()
        query = (read_source(self.spark, settings).writeStream.foreachBatch(count)
                 .option("checkpointLocation", str(self.workdir / "ck" / uuid.uuid4().hex))
                 .trigger(processingTime=f"{settings.spark.trigger_seconds} seconds").start())
        try:
            def done() -> bool:
                self.progress(stage, seen["rows"] / max(expected, 1))
                return seen["rows"] >= expected

            wait_until(done, timeout, "count-only query", query)
            seconds = time.perf_counter() - t0
        finally:
            query.stop()
        return {"rows": seen["rows"], "seconds": seconds, "trades_per_s": seen["rows"] / seconds,
                "batches": seen["batches"]}

    # measurements -------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
