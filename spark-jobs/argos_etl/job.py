"""The Argos ETL: a Spark Structured Streaming query from Kafka or the spool into ClickHouse.

    read_source(spark, settings) -> transform (pure) -> foreachBatch(ClickHouseBatchWriter)

Only :func:`run` wires them together. Stops on SIGTERM/SIGINT and exits cleanly (a micro-batch in flight is
replayed on the next start); with ``idle_stop_seconds`` it also stops once no new input arrived for that long
(tests and benchmarks drain a backlog this way).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from argos.settings import Settings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client
from argos_etl.checkpoint import check_local_dir, local_checkpoint_conf
from argos_etl.jars import SparkSetupError
from argos_etl.sink import ClickHouseBatchWriter
from argos_etl.transforms import transform

log = logging.getLogger("argos.etl")
LOG4J = "log4j2.properties"
SPOOL_FILE_RECORDS = 5_000  # records per spool file (argos_ingest.sinks.SpoolSink default)
READ_SPLITS = 4  # offset ranges per read task in a full batch, so that one skewed Kafka partition is shared out
# How long the broker may hold a fetch that finds no new data (Kafka's default: 500 ms). After each poll Spark's
# consumer keeps a prefetch in flight and then looks up the partition's earliest and latest offsets; the broker
# serves one request per connection at a time, so at the end of a partition's data those lookups wait out the held
# prefetch, once per partition and micro-batch (500 ms: a 1k/s batch took 1.1 s instead of 0.2 s). Many partitions
# pay it many times: 1 ms there (256 partitions at 5k/s: p50 3.7-4.5 s -> 2.6-2.9 s); with few, 10 ms kept 10k/s
# faster in both bench-order pairs (docs/benchmarks items 20 and 36). Never 0: a consumer polling for data that is
# not there must not spin.
FETCH_MAX_WAIT_MS = 10
MANY_PARTITIONS, MANY_PARTITIONS_FETCH_MAX_WAIT_MS = 64, 1
# After every poll Spark's consumer also looks up the partition's earliest and latest offsets (two ListOffsets
# round trips; `InternalKafkaConsumer.fetch`, spark-sql-kafka 4.2.0), and a poll hands out at most
# `max.poll.records` of what its fetch brought (Kafka's default 500; a fetch brings up to 1 MiB of a partition,
# ~2,800 trades). Many partitions take a whole fetch per poll: 64 and 256 drained 0-16% faster (median ~8%); with
# 3 partitions it made 10k/s slower in 3 pairs of 4 (docs item 44).
MANY_PARTITIONS_MAX_POLL_RECORDS = 5_000
# Kafka's consumer reports every metric it registers to JMX and to KIP-714 telemetry; with one consumer per
# partition that was ~12% of the JVM's CPU reading 256 partitions, for metrics nothing here reads (docs item 35).
# `metric.reporters` empty disables JMX from kafka-clients 4.0 on; `auto.include.jmx.reporter` before (3.9, Spark 4.2).
KAFKA_METRICS_OFF = {"kafka.metric.reporters": "", "kafka.auto.include.jmx.reporter": "false",
                     "kafka.enable.metrics.push": "false"}


def consumer_options(partitions: int, reader: str = "spark") -> dict[str, str]:
    """Options of the Kafka consumers that read a topic of ``partitions``; those for many partitions serve Spark's
    reader, where each partition polls and looks up its offsets apart."""
    options = {"kafka.fetch.max.wait.ms": str(FETCH_MAX_WAIT_MS), **KAFKA_METRICS_OFF}
    if reader == "spark" and partitions >= MANY_PARTITIONS:
        options |= {"kafka.fetch.max.wait.ms": str(MANY_PARTITIONS_FETCH_MAX_WAIT_MS),
                    "kafka.max.poll.records": str(MANY_PARTITIONS_MAX_POLL_RECORDS)}
    return options


def spark_session(settings: Settings, app_name: str = "argos-etl") -> SparkSession:
    """A Spark session with the Kafka connector on the classpath and UTC time."""
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise SparkSetupError("Spark needs a JDK 17+: java is not on PATH and JAVA_HOME is not set. Fix: install "
                              "one (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME.")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers run this interpreter (venv)
    if settings.spark.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # one machine: no network interface guessing
    builder = SparkSession.builder.appName(app_name)
    if settings.spark.master:
        builder = builder.master(settings.spark.master)
    jars = settings.spark.jars
    if not jars and settings.spark.source == "kafka":
        from argos_etl.jars import kafka_reader_jar, spark_kafka_jars

        grouped = [kafka_reader_jar()] if settings.spark.kafka_reader == "grouped" else []
        jars = ",".join(str(j) for j in [*spark_kafka_jars(), *grouped])
    for key, value in session_conf(settings, jars).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def session_conf(settings: Settings, jars: str = "") -> dict[str, str]:
    """The Spark configuration the job sets, then the user's ``spark.conf`` (Spark ignores a key it does not know,
    so a test checks that each ``spark.sql`` one is real)."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
        # HotSpot does not JIT-compile a method over 8,000 bytes of bytecode, and whole-stage codegen makes the
        # validation one such method: it ran interpreted (the transform took ~1.8x as long; see Spark's tuning
        # guide, PR 59047). Per-operator codegen splits it into compiled methods, and going there directly
        # (rather than via hugeMethodLimit=8000, which generates the whole-stage code every micro-batch only to
        # discard it) saves ~30 ms of each small batch; big batches run as fast.
        "spark.sql.codegen.wholeStage": "false",
        # Each task borrows a cached Kafka consumer per partition (a split one: per range) it reads; past the pool's
        # capacity (default 64) returned consumers are closed and made anew the next batch. At 256 partitions and
        # 5k/s that doubled a micro-batch of the source alone (docs/benchmarks item 31).
        "spark.kafka.consumer.cache.capacity": str(max(64, 2 * settings.kafka.partitions)),
        # No state store: its coordinator's per-batch lag report is an RPC for nothing.
        "spark.sql.streaming.stateStore.coordinatorReportSnapshotUploadLag": "false",
        **local_checkpoint_conf(settings.checkpoint_dir),
        "spark.ui.showConsoleProgress": "false",
        # Out of heap, Spark's thread that fetches task results dies and the query waits forever (a 1M-row batch
        # collected by a 1 GiB driver did, docs/benchmarks item 39): the JVM exits instead, so the job ends with an
        # error and whoever restarts it resumes from the checkpoint. Takes effect where pyspark launches the JVM
        # (local mode); on Kubernetes spark-submit has started the driver before this session is built, and the
        # chart's spark.driver/executor.javaOptions pass the same flag.
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{Path(__file__).with_name(LOG4J)} "
                                         "-XX:+ExitOnOutOfMemoryError",
        **({"spark.jars": jars} if jars else {}),
        **settings.spark.conf,
    }


def read_source(spark: SparkSession, settings: Settings) -> DataFrame:
    """Raw payloads as ``raw`` (string), ``source`` (where they came from) and ``arrived`` (when they did)."""
    limit = settings.max_records_per_batch
    if settings.spark.source == "kafka":
        kafka = settings.kafka
        tasks = settings.spark.read_tasks or spark.sparkContext.defaultParallelism
        reader = (
            spark.readStream.option("kafka.bootstrap.servers", kafka.bootstrap)
            .option("kafka.security.protocol", kafka.security_protocol)
            .option("subscribe", kafka.topic)
            .option("maxOffsetsPerTrigger", limit)
            .options(**consumer_options(kafka.partitions, settings.spark.kafka_reader))
        )
        if settings.spark.kafka_reader == "grouped":
            # Kafka partitions are not Spark tasks: each of `tasks` reads an equal share of the batch's records,
            # a busy partition's split among several, hundreds of quiet ones through one consumer.
            stream = reader.format("argos-kafka").option("tasks", tasks).load()
        else:
            # Spark's source reads each partition apart; a big batch splits a busy one into ranges of similar size
            # (maxRecordsPerPartition) and coalescing (no shuffle) deals them out to one task per core. A small
            # batch is not split: every range costs a poll plus two offset lookups in Spark's Kafka consumer.
            stream = (reader.format("kafka").option("startingOffsets", "earliest").option("failOnDataLoss", "true")
                      .option("maxRecordsPerPartition", max(1, limit // (READ_SPLITS * tasks))).load()
                      .coalesce(tasks))
        return stream.select(F.col("value").cast("string").alias("raw"), F.lit(f"kafka:{kafka.topic}").alias("source"),
                             F.col("timestamp").alias("arrived"))
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    stream = (
        spark.readStream.format("text")
        .option("maxFilesPerTrigger", max(1, limit // SPOOL_FILE_RECORDS))
        .option("cleanSource", "delete")  # the spool is a buffer, not an archive
        .load(str(settings.spool_dir.resolve()))
    )
    return stream.select(F.col("value").alias("raw"), F.lit("spool").alias("source"),
                         F.col("_metadata.file_modification_time").alias("arrived"))


class _Progress:
    """Logs the query's latest micro-batch and remembers when input last arrived.

    Polled from :func:`run` (one JSON string per poll) rather than a Python ``StreamingQueryListener``, whose
    every event is converted field by field over py4j: at 1k trades/s that listener took a third of the JVM's
    CPU samples here.
    """

    def __init__(self) -> None:
        self.last_input = time.monotonic()
        self.last_batch = -1

    def poll(self, query: StreamingQuery) -> None:
        p = query.lastProgress
        if p is None or p.batchId == self.last_batch:
            return
        self.last_batch = p.batchId
        if p.numInputRows:
            self.last_input = time.monotonic()
        log.info(
            "batch %d: %d rows in %d ms (%.0f rows/s in, %.0f rows/s processed)",
            p.batchId, p.numInputRows, p.batchDuration, p.inputRowsPerSecond or 0, p.processedRowsPerSecond or 0,
        )


def start(spark: SparkSession, settings: Settings, writer: ClickHouseBatchWriter | None = None) -> StreamingQuery:
    """Start the streaming query (the ClickHouse schema must already be migrated)."""
    raw = read_source(spark, settings)
    trades = transform(raw, settings)
    checkpoint = settings.checkpoint_dir
    writer = writer or ClickHouseBatchWriter(settings, _QueryId(spark))
    return (
        trades.writeStream.queryName("argos_trades")
        .foreachBatch(writer)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{settings.spark.trigger_seconds} seconds")  # 0: back to back
        .start()
    )


class _QueryId:
    """The streaming query's id: stable across restarts from one checkpoint, new for a new checkpoint.

    It scopes the insert deduplication tokens, so a fresh checkpoint never collides with old tokens.
    """

    def __init__(self, spark: SparkSession) -> None:
        self.spark, self._id = spark, ""

    def __call__(self) -> str:
        if not self._id:
            self._id = next(q.id for q in self.spark.streams.active if q.name == "argos_trades")
        return self._id


def run(settings: Settings, idle_stop_seconds: float | None = None, client: Client | None = None) -> int:
    """Run the ETL until SIGTERM/SIGINT (or until idle); returns the last micro-batch id (-1: none ran).

    ``client`` lets the process that owns the embedded database share its one connection.
    """
    check_local_dir(settings.checkpoint_dir, "spark.checkpoint_dir", "ARGOS_SPARK__CHECKPOINT_DIR")
    spark = spark_session(settings)
    progress = _Progress()
    stop = threading.Event()
    query = start(spark, settings, ClickHouseBatchWriter(settings, _QueryId(spark), client))
    log.info("query started: id=%s run=%s", query.id, query.runId)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    progress.last_input = time.monotonic()
    try:
        while not stop.is_set() and query.isActive:
            stop.wait(0.25)
            progress.poll(query)
            idle = time.monotonic() - progress.last_input
            if idle_stop_seconds and idle > idle_stop_seconds and not query.status["isTriggerActive"]:
                log.info("no input for %.0fs: stopping", idle_stop_seconds)
                break
        if query.exception():
            raise RuntimeError(f"streaming query failed: {query.exception()}")
    except Exception as exc:
        if not stop.is_set():
            raise
        log.info("Spark is shutting down with us (%s)", str(exc).splitlines()[0][:300])  # a real failure stays seen
        # The signal reached the JVM too (Ctrl-C, a process-group kill): its shutdown hook stops Spark, which ends
        # the query, so the calls above may fail. A micro-batch in flight is left uncommitted and replayed on the
        # next start under the same write token (Structured Streaming has no stop-after-this-batch setting).
    finally:
        log.info("stopping the query")
        try:
            query.stop()
            log.info("query stopped: id=%s", query.id)
        except Exception:
            if not stop.is_set():
                raise
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return progress.last_batch
