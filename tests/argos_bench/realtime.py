"""Spark Real-Time Mode (``trigger(realTime=...)``, Spark 4.1+) as a low-latency option: probe and measure.

Findings on pyspark 4.2.0 (the probe below re-checks them on every full run):

* Kafka source + Python ``foreach`` writer + ``trigger(realTime="5 seconds")`` runs.
* ``foreachBatch`` is not a Real-Time Mode sink, so the ETL's exactly-once mechanism (one deterministic
  ``insert_deduplication_token`` per micro-batch and partition) has no equivalent: a ``foreach`` writer sees
  rows one by one inside a long epoch, and any time-based batching into ClickHouse async inserts is not
  reproduced identically on replay -> at-least-once only.
* The ETL's de-duplication (``dropDuplicatesWithinWatermark``) is stateful; the probe records whether the
  full transform is accepted in Real-Time Mode.
* ``foreach`` runs in executor Python workers: it cannot write the embedded engine (one owner process), so
  here the writer records the time each row reached the sink (exchange -> Spark sink latency, no insert).
* The stateful de-duplication is refused (``STREAMING_REAL_TIME_MODE.OPERATOR_OR_SINK_NOT_IN_ALLOWLIST``:
  ShuffleExchangeExec, StreamingDeduplicateWithinWatermarkExec); so is the source's ``maxOffsetsPerTrigger``.
* Every task runs for the whole epoch, so it needs a task slot per Kafka partition (local[2]: 2 partitions).
* Rows reach a Python ``foreach`` writer through the JVM -> Python worker stream, buffered by
  ``spark.buffer.size`` (64 KiB): at 1k trades/s that buffer, not Spark, sets the latency (p50 2.5 s with the
  default, 0.7 s with 2 KiB on this machine) -- slower than the micro-batch ETL's *end-to-end* p50.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from argos.contract import now_us
from argos_bench.harness import SYMBOLS, Bench, percentiles, wait_until
from argos_ingest.synthetic import SyntheticMarket


class _LatencyWriter:
    """``foreach`` writer: appends ``trade_time,seen_time`` (µs) per row to a file per partition and epoch."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def open(self, partition_id: int, epoch_id: int) -> bool:
        self._lines: list[str] = []
        self._path = f"{self.folder}/p{partition_id}-e{epoch_id}-{uuid.uuid4().hex[:6]}.csv"
        self._last_flush = time.monotonic()
        return True

    def process(self, row: Any) -> None:
        self._lines.append(f"{row['trade_time']},{time.time_ns() // 1000}")
        if time.monotonic() - self._last_flush > 0.5:
            self._flush()

    def _flush(self) -> None:
        if self._lines:
            with open(self._path, "a") as fh:
                fh.write("\n".join(self._lines) + "\n")
            self._lines = []
        self._last_flush = time.monotonic()

    def close(self, error: Any) -> None:
        self._flush()


def _kafka(bench: Bench, settings: Any) -> Any:
    """The ETL's Kafka source minus ``maxOffsetsPerTrigger``, which Real-Time Mode refuses."""
    from pyspark.sql import functions as F

    return (bench.spark.readStream.format("kafka").option("kafka.bootstrap.servers", settings.kafka.bootstrap)
            .option("subscribe", settings.kafka.topic).option("startingOffsets", "earliest")
            .option("failOnDataLoss", "true").load()
            .select(F.col("value").cast("string").alias("raw"), F.lit("kafka").alias("source")))


def _probe_full_transform(bench: Bench, settings: Any) -> str:
    """Does Real-Time Mode accept the ETL's whole transform (with the stateful de-duplication)?"""
    from argos_etl.transforms import transform

    folder = bench.workdir / f"rtm-probe-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    try:
        query = (transform(_kafka(bench, settings), settings).writeStream
                 .foreach(_LatencyWriter(str(folder))).outputMode("update")
                 .option("checkpointLocation", str(folder / "ck")).trigger(realTime="5 seconds").start())
        time.sleep(8)
        error = query.exception()
        active = query.isActive
        query.stop()
        return "accepted" if active and error is None else f"rejected: {str(error)[:400]}"
    except Exception as exc:
        return f"rejected: {type(exc).__name__}: {str(exc).splitlines()[0][:400]}"


def measure(bench: Bench, rate: int = 1_000) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from argos_etl.transforms import enrich, parse
    from argos_ingest.sinks import KafkaSink

    seconds = bench.profile.realtime_seconds
    # Real-Time Mode runs every task of the query at once for the whole epoch: it needs a task slot per Kafka
    # partition, so on local[2] the topic gets 2 partitions (with 3 the third partition waits for an epoch end).
    settings = bench.settings("bench_rtm", f"bench-rtm-{uuid.uuid4().hex[:6]}", partitions=2)
    sink = KafkaSink(settings.kafka)
    market = SyntheticMarket(SYMBOLS[:4], seed=99)
    for t in market.trades(50, now_us() - 1000, now_us()):
        sink.send(t)
    sink.flush()
    out: dict[str, Any] = {"pyspark": bench.spark.version, "trigger": "realTime='5 seconds'", "sink": "foreach",
                           "source_option": "the ETL's maxOffsetsPerTrigger is refused by Real-Time Mode "
                                            "('maxOffsetsPerTrigger is not compatible with real time mode')"}
    out["full_transform"] = _probe_full_transform(bench, settings)
    out["partitions"] = settings.kafka.partitions
    folder = Path(bench.workdir / f"rtm-{uuid.uuid4().hex[:6]}")
    folder.mkdir(parents=True)
    # Stateless part of the ETL (parse -> validate -> enrich, no de-duplication) into the foreach writer.
    frame = enrich(parse(_kafka(bench, settings)), settings.whale_threshold_usd, settings.whale_thresholds)
    frame = frame.where(F.col("reason").isNull()).select(F.unix_micros("trade_time").alias("trade_time"))
    try:
        query = (frame.writeStream.foreach(_LatencyWriter(str(folder))).outputMode("update")
                 .option("checkpointLocation", str(folder / "ck")).trigger(realTime="5 seconds").start())
    except Exception as exc:
        out["stateless_transform"] = f"rejected: {type(exc).__name__}: {str(exc).splitlines()[0][:400]}"
        return out

    def seen_rows() -> int:
        return sum(p.read_text().count("\n") for p in folder.glob("*.csv"))

    try:
        wait_until(lambda: seen_rows() >= 50, 90, "real-time warm-up", query)
        begin = now_us()
        t_start, sent = time.monotonic(), 0
        while (now := time.monotonic()) - t_start < seconds:
            due = int(rate * (now - t_start)) - sent
            if due > 0:
                t1 = now_us()
                for trade in market.trades(due, t1 - 10_000, t1):
                    sink.send(trade)
                sent += due
            bench.progress("real-time mode", (now - t_start) / seconds)
            time.sleep(0.01)
        sink.close()
        time.sleep(3)
        out["stateless_transform"] = "accepted" if query.isActive else f"failed: {query.exception()}"
    finally:
        query.stop()
    lat = []
    for p in folder.glob("*.csv"):
        for line in p.read_text().splitlines():
            trade_us, seen_us = (int(x) for x in line.split(","))
            if trade_us >= begin:
                lat.append((seen_us - trade_us) / 1000)
    out.update({"rate": rate, "seconds": seconds, "rows_seen": len(lat), "rows_sent": sent,
                "exchange_to_sink_ms": percentiles(lat),
                "exactly_once": False,
                "note": "foreach sink in executor Python workers: rows reach the sink continuously, but there "
                        "is no foreachBatch, so no deterministic per-batch insert token -> at-least-once; it cannot "
                        "write the embedded engine (one owner process), so this measures exchange -> Spark sink"})
    return out


def realtime(bench: Bench) -> dict[str, Any]:
    out = measure(bench) if bench.profile.realtime_seconds else {
        "skipped": "quick profile; see the full report for the Real-Time Mode probe"}
    bench.results["realtime_mode"] = out
    return out
