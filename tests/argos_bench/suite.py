"""The measurements. Real engines only: a local KRaft broker (or ``KAFKA_BOOTSTRAP``), Spark ``local[2]``
and the embedded ClickHouse engine (one chDB directory for the whole run, one database per measurement).

Every figure comes with a baseline measured in the same run, so a noisy shared machine still gives
meaningful ratios:

========================  ===================================================================
measurement               baseline
========================  ===================================================================
ingest                    raw kafka-python producer on the same pre-encoded messages
ETL drain                 a Spark streaming query on the same topic that only counts
reference design          (it *is* the baseline of the ETL: batch read.json + per-row inserts)
latency                   per-stage split of the same rows (where the time goes)
dashboard queries         —  (p50/p99 of every panel's SQL over a large table)
scaling                   the 1-symbol / 1-partition case
========================  ===================================================================
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from argos.contract import Trade, encode, now_us
from argos.settings import Settings, load_settings
from argos_ingest.synthetic import SyntheticMarket

log = logging.getLogger("argos_bench")

# Spark local[2] in this process; the driver heap holds the de-duplication state of a 2M-trade drain.
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

    @classmethod
    def quick(cls) -> Profile:
        return cls("quick", 40_000, 100_000, (1_000,), 12, 6, 200_000, 5, (), 0, 0, 0)

    @classmethod
    def full(cls) -> Profile:
        return cls("full", 300_000, 2_000_000, (1_000, 10_000, 50_000), 30, 20, 10_000_000, 20,
                   (1, 4, 16, 64), 300_000, 5_000, 30)


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
    """Delegates to a clickhouse-connect client and records how long each ``insert_arrow`` takes."""

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

    # lifecycle ----------------------------------------------------------------------------------------
    def __enter__(self) -> Bench:
        from argos.clickhouse import connect
        from argos_testkit.kafka_broker import kafka_bootstrap

        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bootstrap = self._stack.enter_context(kafka_bootstrap())
        base = self.settings("bench_setup", "setup")
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

    def settings(self, db: str, topic: str, **spark: Any) -> Settings:
        return load_settings(
            data_dir=self.workdir,
            clickhouse={"database": db, "url": ""},
            kafka={"bootstrap": self.bootstrap, "topic": topic,
                   "partitions": spark.pop("partitions", self.partitions)},
            spark={"source": "kafka", "master": "local[2]", "conf": SPARK_CONF,
                   "checkpoint_dir": str(self.workdir / "ck" / uuid.uuid4().hex), **spark},
        )

    def migrate(self, settings: Settings) -> None:
        from argos_schema.migrate import migrate

        migrate(self.client, settings.clickhouse.database)

    def produce(self, settings: Settings, trades: Iterator[Trade], n: int, stage: str) -> float:
        """Send trades through the production Kafka sink; returns seconds."""
        from argos_ingest.sinks import KafkaSink

        sink = KafkaSink(settings.kafka)
        t0 = time.perf_counter()
        for i, trade in enumerate(trades):
            sink.send(trade)
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

    def count_only(self, settings: Settings, expected: int, timeout: float, stage: str) -> dict[str, Any]:
        """Baseline: a streaming query on the same topic with the same limits that only counts rows."""
        from argos_etl.job import read_source

        seen = {"rows": 0, "batches": 0}

        def count(df: Any, _batch_id: int) -> None:
            seen["rows"] += df.count()
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
    def ingest(self) -> dict[str, Any]:
        """normalize (Binance frame -> Trade) + encode + produce, against the raw producer ceiling."""
        from kafka import KafkaProducer

        from argos_ingest.sinks import KafkaSink
        from argos_ingest.venues.binance import parse_message

        n = self.profile.ingest_messages
        trades = list(SyntheticMarket(SYMBOLS[:4], seed=7).backlog(n, span_seconds=600))
        frames = [orjson.dumps({"stream": f"{t.symbol.lower()}@trade", "data": {
            "e": "trade", "E": t.event_time, "s": t.symbol, "t": t.trade_id, "p": t.price, "q": t.qty,
            "T": t.trade_time, "m": t.is_buyer_maker, "M": True}}) for t in trades]
        encoded = [(encode(t), t.key) for t in trades]
        settings = self.settings("bench_ingest", f"bench-ingest-{uuid.uuid4().hex[:6]}")

        def timed(fn: Callable[[], None]) -> dict[str, float]:
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            return {"messages": n, "wall_seconds": wall, "cpu_seconds": cpu, "msgs_per_s": n / wall,
                    "msgs_per_cpu_s": n / cpu}

        def argos_path() -> None:
            sink = KafkaSink(settings.kafka)
            for i, frame in enumerate(frames):
                sink.send(parse_message(frame, "spot"))
                if i % 10_000 == 0:
                    self.progress("ingest", 0.5 * i / n)
            sink.close()

        def raw_path() -> None:
            producer = KafkaProducer(
                bootstrap_servers=self.bootstrap.split(","), acks="all", enable_idempotence=True,
                compression_type="lz4", linger_ms=20, batch_size=256 * 1024, retries=2**31 - 1,
                max_in_flight_requests_per_connection=5)
            for i, (value, key) in enumerate(encoded):
                producer.send(settings.kafka.topic, value=value, key=key)
                if i % 10_000 == 0:
                    self.progress("ingest", 0.5 + 0.5 * i / n)
            producer.flush()
            producer.close()

        from argos_ingest.sinks import ensure_topic

        ensure_topic(settings.kafka)
        argos = timed(argos_path)
        raw = timed(raw_path)
        self.progress("ingest", 1.0)
        out = {"argos": argos, "raw_producer": raw,
               "ratio_per_cpu": argos["msgs_per_cpu_s"] / raw["msgs_per_cpu_s"],
               "ratio_wall": argos["msgs_per_s"] / raw["msgs_per_s"],
               "note": "Binance combined-stream frames -> parse_message -> KafkaSink.send (orjson encode, "
                       "acks=all, idempotent, lz4) vs KafkaProducer.send of the same encoded bytes; per CPU "
                       "second of this process (includes kafka-python's sender thread)"}
        self.results["ingest"] = out
        return out

    def etl(self) -> dict[str, Any]:
        """Drain a backlog Kafka -> Spark -> ClickHouse vs a count-only query on the same topic."""
        n = self.profile.etl_trades
        settings = self.settings("bench_etl", f"bench-etl-{uuid.uuid4().hex[:6]}")
        self.migrate(settings)
        market = SyntheticMarket(SYMBOLS[:4], seed=11)
        produce_s = self.produce(settings, market.backlog(n, span_seconds=3600), n, "etl: produce backlog")
        timeout = 120 + n / 2_000
        baseline = self.count_only(settings, n, timeout, "etl: count-only baseline")
        etl = self.run_etl(settings, n, timeout, "etl: drain into ClickHouse")
        stored = self.client.query(
            f"SELECT count(), uniqExact(symbol, trade_id) FROM {settings.clickhouse.database}.trades").result_rows[0]
        # The same drain with the stateful de-duplication off: what the exactly-once-on-resend guarantee costs.
        no_dedup = self.settings("bench_etl_nodedup", settings.kafka.topic, dedup_window_seconds=0)
        self.migrate(no_dedup)
        etl_no_dedup = self.run_etl(no_dedup, n, timeout, "etl: drain, de-duplication off")
        out = {"trades": n, "produce_seconds": produce_s, "etl": etl, "count_only": baseline,
               "etl_without_dedup": etl_no_dedup,
               "dedup_cost_ratio": etl["trades_per_s"] / etl_no_dedup["trades_per_s"],
               "ratio": etl["trades_per_s"] / baseline["trades_per_s"], "stored_rows": int(stored[0]),
               "stored_distinct_ids": int(stored[1]), "partitions": settings.kafka.partitions,
               "max_records_per_batch": settings.spark.max_records_per_batch}
        self.results["etl"] = out
        self._etl_topic = settings.kafka.topic
        return out

    def breakdown(self, n: int = 100_000) -> dict[str, Any]:
        """Where a batch's time goes: the ETL's stages timed one by one on a static read of ``n`` trades."""
        from pyspark.sql import functions as F

        from argos.clickhouse import insert_arrow
        from argos_etl.sink import split
        from argos_etl.transforms import enrich, parse, trade_key

        settings = self.settings("bench_breakdown", f"bench-breakdown-{uuid.uuid4().hex[:6]}")
        self.migrate(settings)
        self.produce(settings, SyntheticMarket(SYMBOLS[:4], seed=13).backlog(n, 1800), n, "breakdown: produce")
        raw = (self.spark.read.format("kafka").option("kafka.bootstrap.servers", self.bootstrap)
               .option("subscribe", settings.kafka.topic).option("startingOffsets", "earliest").load()
               .select(F.col("value").cast("string").alias("raw"), F.lit("kafka").alias("source"))).cache()
        raw.count()  # Kafka fetch once, outside the timings
        steps: dict[str, float] = {}

        def timed(name: str, fn: Callable[[], Any]) -> Any:
            t0 = time.perf_counter()
            value = fn()
            steps[name] = time.perf_counter() - t0
            self.progress("breakdown: stages", len(steps) / 6)
            return value

        def noop(df: Any) -> None:
            df.write.format("noop").mode("overwrite").save()

        timed("read (cached) -> noop", lambda: noop(raw))
        timed("parse (from_json, try_parse_json, decimals, checks)", lambda: noop(parse(raw)))
        timed("parse + enrich", lambda: noop(enrich(parse(raw), settings.whale_threshold_usd,
                                                     settings.whale_thresholds)))
        def deduplicated() -> Any:  # the streaming dedup is stateful; in batch the same key with dropDuplicates
            parsed = parse(raw)
            return enrich(parsed.withColumn("dedup_key", trade_key()).dropDuplicates(["dedup_key"]).drop("dedup_key"),
                          settings.whale_threshold_usd, settings.whale_thresholds)

        timed("parse + dedup (shuffle) + enrich", lambda: noop(deduplicated()))
        arrow = timed("parse + enrich -> toArrow (to the driver)", lambda: enrich(
            parse(raw), settings.whale_threshold_usd, settings.whale_thresholds).toArrow())
        trades, _dead = split(arrow, 0)
        timed("insert_arrow into ClickHouse (with MVs)", lambda: insert_arrow(
            self.client, f"{settings.clickhouse.database}.trades", trades, f"bench-{uuid.uuid4().hex}"))
        raw.unpersist()
        out = {"trades": n, "seconds": steps, "rows_per_s": {k: n / v for k, v in steps.items()}}
        self.results["etl_breakdown"] = out
        return out

    def reference(self) -> dict[str, Any]:
        """The old design on the same trades: JSON files -> batch read.json (inference) -> per-row inserts."""
        from argos_ingest.sinks import SpoolSink

        n = self.profile.etl_trades
        spool = self.workdir / "reference-spool"
        shutil.rmtree(spool, ignore_errors=True)
        sink = SpoolSink(spool, max_records=5_000, max_seconds=1e9)
        for i, trade in enumerate(SyntheticMarket(SYMBOLS[:4], seed=11).backlog(n, span_seconds=3600)):
            sink.send(trade)
            if i % 50_000 == 0:
                self.progress("reference: spool JSON", 0.3 * i / n)
        sink.close()
        db = "bench_reference"
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
        self.client.command(f"DROP TABLE IF EXISTS {db}.trades")
        # The reference table: second-precision DateTime, float prices, no trade id.
        self.client.command(f"CREATE TABLE {db}.trades (symbol String, price Float64, qty Float64, "
                            "trade_time DateTime, is_buyer_maker UInt8) "
                            "ENGINE = MergeTree ORDER BY (symbol, trade_time)")
        t0 = time.perf_counter()
        df = self.spark.read.json(str(spool))  # schema inference: a full pass over the files
        infer_s = time.perf_counter() - t0
        self.progress("reference: read.json + per-row inserts", 0.4)
        inserted, t1 = 0, time.perf_counter()
        budget = self.profile.reference_insert_seconds
        for row in df.toLocalIterator():
            self.client.insert(f"{db}.trades", [[row["symbol"], float(row["price"]), float(row["qty"]),
                                                 datetime.fromtimestamp(row["trade_time"] / 1e6, UTC),
                                                 int(row["is_buyer_maker"])]],
                               column_names=["symbol", "price", "qty", "trade_time", "is_buyer_maker"])
            inserted += 1
            if time.perf_counter() - t1 > budget:
                break
            if inserted % 200 == 0:
                self.progress("reference: read.json + per-row inserts", 0.4 + 0.6 * (time.perf_counter() - t1) / budget)
        insert_s = time.perf_counter() - t1
        row_rate = inserted / insert_s
        total_s = infer_s + n / row_rate
        out = {"trades": n, "read_json_infer_seconds": infer_s, "rows_inserted": inserted,
               "row_insert_seconds": insert_s, "rows_per_s_insert": row_rate,
               "extrapolated_total_seconds": total_s, "trades_per_s": n / total_s,
               "note": f"per-row inserts measured for {insert_s:.0f}s ({inserted} rows), the total for {n} "
                       "trades extrapolated at that rate (inserting all would take hours)"}
        etl = self.results.get("etl")
        if etl:
            out["argos_over_reference"] = etl["etl"]["trades_per_s"] / out["trades_per_s"]
        self.results["reference"] = out
        return out

    def latency(self, rate: int, seconds: float, symbols: list[str], partitions: int | None = None,
                stage: str = "") -> dict[str, Any]:
        """Steady synthetic rate through KafkaSink -> ETL; p50/p95/p99 per stage from the stored row times."""
        from argos_ingest.sinks import KafkaSink

        stage = stage or f"latency @ {rate:,}/s"
        db = f"bench_lat_{rate}_{len(symbols)}_{uuid.uuid4().hex[:4]}"
        settings = self.settings(db, f"bench-{db}", partitions=partitions or self.partitions)
        self.migrate(settings)
        sink = KafkaSink(settings.kafka)
        market = SyntheticMarket(symbols, seed=rate)
        # warm up: the query is started and has written once before the clock starts
        for t in market.trades(100, now_us() - 1000, now_us()):
            sink.send(t)
        sink.flush()
        from argos_etl.job import _QueryId, start
        from argos_etl.sink import ClickHouseBatchWriter

        writer = CountingWriter(ClickHouseBatchWriter(settings, _QueryId(self.spark), self.client), self.client, db)
        query = start(self.spark, settings, writer)
        sent = 100
        try:
            wait_until(lambda: writer.rows >= 100, 120, "latency warm-up", query)
            begin_us = now_us()
            t_start = time.monotonic()
            last = t_start
            tick = 0.01
            while (now := time.monotonic()) - t_start < seconds:
                due = int(rate * (now - t_start)) - (sent - 100)
                if due > 0:
                    t1 = now_us()
                    t0 = t1 - int((now - last) * 1e6)
                    for trade in market.trades(due, max(t0, t1 - 1_000_000), t1):
                        sink.send(trade)
                    sent += due
                    last = now
                self.progress(stage, 0.8 * (now - t_start) / seconds)
                time.sleep(max(0.0, tick - (time.monotonic() - now)))
            produce_wall = time.monotonic() - t_start
            sink.close()
            wait_until(lambda: writer.rows >= sent, 120 + sent / 2_000, f"latency drain @ {rate}/s", query)
            self.progress(stage, 1.0)
        finally:
            query.stop()
        stages = {
            "exchange_to_event": "event_time - trade_time",  # synthetic exchange: event sent after the trade
            "event_to_ingest": "ingest_time - event_time",
            "ingest_to_spark": "process_time - ingest_time",  # Kafka + waiting for the trigger + start of batch
            "spark_to_insert": "insert_time - process_time",  # transform, toArrow, insert_arrow
            "end_to_end": "insert_time - trade_time",
        }
        cols = ", ".join(
            f"quantiles(0.5, 0.95, 0.99)(dateDiff('microsecond', {expr.split(' - ')[1]}, {expr.split(' - ')[0]})"
            f" / 1000.0) AS {name}" for name, expr in stages.items())
        row = self.client.query(
            f"SELECT count() AS n, {cols} FROM {db}.trades WHERE trade_time >= fromUnixTimestamp64Micro({begin_us})"
        ).result_rows[0]
        out: dict[str, Any] = {"rate_target": rate, "rate_achieved": (sent - 100) / produce_wall, "seconds": seconds,
                               "rows": int(row[0]), "symbols": len(symbols), "partitions": settings.kafka.partitions,
                               "trigger_seconds": settings.spark.trigger_seconds, "batches": writer.batches}
        for (name, _), qs in zip(stages.items(), row[1:], strict=True):
            out[name] = {"p50": qs[0], "p95": qs[1], "p99": qs[2]}
        return out

    def latencies(self) -> list[dict[str, Any]]:
        out = [self.latency(rate, self.profile.latency_seconds, SYMBOLS[:4]) for rate in self.profile.latency_rates]
        self.results["latency"] = out
        return out

    def dashboard(self) -> dict[str, Any]:
        """Every panel's SQL (rendered by the dashboard package) over a large generated trades table."""
        from argos_dashboards.data import Selection, panel_sql
        from argos_dashboards.model import Scope
        from argos_dashboards.panels import PANELS, VARIABLES

        n = self.profile.dashboard_trades
        db = "bench_dashboard"
        settings = self.settings(db, "unused")
        self.client.command(f"DROP DATABASE IF EXISTS {db}")
        self.migrate(settings)
        end = datetime.now(UTC).replace(microsecond=0)
        span_us = 3600 * 1_000_000
        end_us = int(end.timestamp() * 1e6)
        symbols = SYMBOLS
        chunk = 1_000_000
        t0 = time.perf_counter()
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            # Realistic shapes without Python in the loop: per-symbol random-ish walk, log-normal notional,
            # rare whales, times spread evenly over the last hour, ~1 s pipeline latency.
            self.client.command(f"""
INSERT INTO {db}.trades (venue, market, symbol, trade_id, price, qty, quote, is_buyer_maker, side, is_whale,
                         trade_time, event_time, ingest_time, process_time, insert_time)
SELECT 'synthetic', 'spot', sym, number, toDecimal128(px, 18), toDecimal128(q, 18),
       toDecimal128(px * q, 18), maker, if(maker, 'sell', 'buy'), px * q >= 10000,
       t, t + toIntervalMicrosecond(500 + number % 2500), t + toIntervalMicrosecond(4000 + number % 9000),
       t + toIntervalMicrosecond(300000 + number % 700000), t + toIntervalMicrosecond(900000 + number % 900000)
FROM (
    SELECT number,
           {symbols}[number % {len(symbols)} + 1] AS sym,
           (100 + 900 * (number % {len(symbols)}))
               * (1 + 0.02 * sin(number / 70000.0) + 0.001 * (randCanonical() - 0.5)) AS px,
           exp(randNormal(log(300), 1.4)) / px AS q,
           rand() % 2 = 0 AS maker,
           fromUnixTimestamp64Micro(toInt64({end_us - span_us} + intDiv(number * {span_us}, {n}))) AS t
    FROM numbers({lo}, {hi - lo})
)""")
            self.progress("dashboard: load", 0.5 * hi / n)
        load_s = time.perf_counter() - t0
        selection = Selection(db, end - timedelta(hours=1), end + timedelta(minutes=1),
                              {"market": ["spot"], "symbol": symbols})
        queries = [(f"variable:{v.name}", v.sql.replace("{db}", db)) for v in VARIABLES]
        from argos_dashboards.macros import QueryWindow, render

        queries = [(name, render(sql, QueryWindow(selection.start, selection.end, 1), {}, db)) for name, sql in queries]
        for panel in PANELS:
            sel = selection.only(symbol=[symbols[0]]) if panel.scope is Scope.SYMBOL else selection
            queries.append((panel.key, panel_sql(panel, sel)))
        results = {}
        repeats = self.profile.dashboard_repeats
        for i, (name, sql) in enumerate(queries):
            self.client.query_arrow(sql)  # warm (first-run metadata), not counted
            times = []
            for _ in range(repeats):
                q0 = time.perf_counter()
                table = self.client.query_arrow(sql)
                times.append((time.perf_counter() - q0) * 1000)
            results[name] = {**percentiles(times, (0.5, 0.99)), "rows": table.num_rows, "repeats": repeats}
            self.progress("dashboard: panels", 0.5 + 0.5 * (i + 1) / len(queries))
        stored = int(self.client.query(f"SELECT count() FROM {db}.trades").result_rows[0][0])
        out = {"trades": stored, "load_seconds": load_s, "window": "last 1 h (all trades inside it)",
               "symbols": len(symbols), "queries": results,
               "p50_max_ms": max(r["p50"] for r in results.values()),
               "p99_max_ms": max(r["p99"] for r in results.values())}
        self.results["dashboard"] = out
        return out

    def scaling(self) -> dict[str, Any]:
        if not self.profile.scaling:
            out = {"skipped": "quick profile: scaling (1/4/16/64 symbols and partitions) runs only in the full "
                              "profile (`argos bench`)"}
            self.results["scaling"] = out
            return out
        rows = []
        for k in self.profile.scaling:
            settings = self.settings(f"bench_scale_{k}", f"bench-scale-{k}-{uuid.uuid4().hex[:4]}", partitions=k)
            self.migrate(settings)
            n = self.profile.scaling_trades
            self.produce(settings, SyntheticMarket(symbols_for(k), seed=k).backlog(n, 1800), n, f"scaling {k}: produce")
            drain = self.run_etl(settings, n, 120 + n / 2_000, f"scaling {k}: drain")
            lat = self.latency(self.profile.scaling_rate, 15, symbols_for(k), partitions=k,
                               stage=f"scaling {k}: latency")
            rows.append({"symbols": k, "partitions": k, "drain_trades_per_s": drain["trades_per_s"],
                         "latency_p50_ms": lat["end_to_end"]["p50"], "latency_p99_ms": lat["end_to_end"]["p99"],
                         "latency_rate": lat["rate_achieved"]})
        base = rows[0]["drain_trades_per_s"]
        for r in rows:
            r["throughput_vs_1"] = r["drain_trades_per_s"] / base
        out = {"runs": rows}
        self.results["scaling"] = out
        return out

    def realtime(self) -> dict[str, Any]:
        from argos_bench.realtime import measure

        out = measure(self) if self.profile.realtime_seconds else {
            "skipped": "quick profile; see the full report for the Real-Time Mode probe"}
        self.results["realtime_mode"] = out
        return out


@dataclass
class Run:
    profile: Profile
    workdir: Path | None = None
    keep: bool = False
    only: tuple[str, ...] = ()
    stages: list[str] = field(default_factory=lambda: ["ingest", "etl", "breakdown", "reference", "latency",
                                                         "dashboard", "scaling", "realtime"])


def run_suite(run: Run, progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Run every measurement of ``run.profile`` and return the results (JSON-able)."""
    workdir = run.workdir or Path(tempfile.mkdtemp(prefix="argos-bench-"))
    started = time.perf_counter()
    meta = {"profile": run.profile.name, "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), "workdir": str(workdir), "spark_conf": SPARK_CONF}
    try:
        with Bench(run.profile, workdir, progress) as bench:
            steps = {"ingest": bench.ingest, "etl": bench.etl, "breakdown": bench.breakdown,
                     "reference": bench.reference,
                     "latency": bench.latencies, "dashboard": bench.dashboard, "scaling": bench.scaling,
                     "realtime": bench.realtime}
            for name in run.stages:
                if run.only and name not in run.only:
                    continue
                t0 = time.perf_counter()
                try:
                    steps[name]()
                except Exception as exc:  # one failed measurement must not hide the others
                    log.exception("benchmark step %s failed", name)
                    bench.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:2000]
                bench.results.setdefault("step_seconds", {})[name] = round(time.perf_counter() - t0, 1)
            results = bench.results
    finally:
        if not run.keep and run.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["seconds"] = round(time.perf_counter() - started, 1)
    return {"meta": meta, **results}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
