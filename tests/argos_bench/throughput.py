"""Throughput: ingest per core, the ETL drain beside a count-only read, a cost breakdown, the reference design."""


from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from argos.contract import encode
from argos.settings import Settings
from argos_bench.harness import (
    SYMBOLS,
    Bench,
    send,
)
from argos_ingest.synthetic import SyntheticMarket


def ingest(bench: Bench) -> dict[str, Any]:
    """normalize (Binance frame -> Trade) + encode + produce, against the raw producer ceiling."""
    from kafka import KafkaProducer

    from argos_ingest.sinks import PRODUCER_SETTINGS, KafkaSink
    from argos_ingest.venues.binance import parse_message

    n = bench.profile.ingest_messages
    trades = list(SyntheticMarket(SYMBOLS[:4], seed=7).backlog(n, span_seconds=600))
    frames = [orjson.dumps({"stream": f"{t.symbol.lower()}@trade", "data": {
        "e": "trade", "E": t.event_time, "s": t.symbol, "t": t.trade_id, "p": t.price, "q": t.qty,
        "T": t.trade_time, "m": t.is_buyer_maker, "M": True}}) for t in trades]
    encoded = [(encode(t), t.key) for t in trades]
    settings = bench.settings("bench_ingest", f"bench-ingest-{uuid.uuid4().hex[:6]}")

    def timed(fn: Callable[[], None]) -> dict[str, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        return {"messages": n, "wall_seconds": wall, "cpu_seconds": cpu, "msgs_per_s": n / wall,
                "msgs_per_cpu_s": n / cpu}

    def argos_path() -> None:
        sink = KafkaSink(settings.kafka)
        for i, frame in enumerate(frames):
            send(sink, parse_message(frame, "spot"))
            if i % 10_000 == 0:
                bench.progress("ingest", 0.5 * i / n)
        sink.close()

    def raw_path() -> None:
        producer = KafkaProducer(bootstrap_servers=bench.bootstrap.split(","), **PRODUCER_SETTINGS)
        for i, (value, key) in enumerate(encoded):
            producer.send(settings.kafka.topic, value=value, key=key)
            if i % 10_000 == 0:
                bench.progress("ingest", 0.5 + 0.5 * i / n)
        producer.flush()
        producer.close()

    from argos_ingest.sinks import ensure_topic

    ensure_topic(settings.kafka)
    argos = timed(argos_path)
    raw = timed(raw_path)
    bench.progress("ingest", 1.0)
    out = {"argos": argos, "raw_producer": raw,
           "ratio_per_cpu": argos["msgs_per_cpu_s"] / raw["msgs_per_cpu_s"],
           "ratio_wall": argos["msgs_per_s"] / raw["msgs_per_s"],
           "note": "Binance combined-stream frames -> parse_message -> KafkaSink.send (orjson encode, "
                   "acks=all, idempotent, lz4) vs KafkaProducer.send of the same encoded bytes; per CPU "
                   "second of this process (includes kafka-python's sender thread)"}
    bench.results["ingest"] = out
    return out


def etl(bench: Bench) -> dict[str, Any]:
    """Drain a backlog Kafka -> Spark -> ClickHouse vs a count-only query on the same topic.

    The queries run ``etl_rounds`` times in turn and the last round is reported: the first query of a fresh
    JVM pays its class loading and compilation, and that was the count-only baseline's (docs/benchmarks item 38).
    A second baseline reads the topic and decodes each payload once, as the drain does, and keeps nothing: the
    floor that JSON payloads set (docs/benchmarks item 57).
    """
    n = bench.profile.etl_trades
    topic = f"bench-etl-{uuid.uuid4().hex[:6]}"
    market = SyntheticMarket(SYMBOLS[:4], seed=11)
    produce_s = bench.produce(bench.settings("bench_etl", topic), market.backlog(n, span_seconds=3600), n,
                              "etl: produce backlog")
    timeout = 120 + n / 2_000
    rounds = []
    for i in range(bench.profile.etl_rounds):
        # Each drain into a database of its own: a re-drain must not find its trades stored (de-duplication).
        settings = bench.settings(f"bench_etl_{i}", topic)
        no_dedup = bench.settings(f"bench_etl_nodedup_{i}", topic, dedup=False)
        bench.migrate(settings)
        bench.migrate(no_dedup)
        stage = f"etl round {i + 1}/{bench.profile.etl_rounds}"
        rounds.append({"count_only": bench.count_only(settings, n, timeout, f"{stage}: count-only baseline"),
                       "decode_only": bench.count_only(settings, n, timeout, f"{stage}: decode-only baseline",
                                                       rows=_decoded_rows),
                       "etl": bench.run_etl(settings, n, timeout, f"{stage}: drain into ClickHouse"),
                       # the same drain without the stored-key de-duplication: what exactly-once on resend costs
                       "etl_without_dedup": bench.run_etl(no_dedup, n, timeout, f"{stage}: de-duplication off")})
    last = rounds[-1]
    etl, baseline, etl_no_dedup = last["etl"], last["count_only"], last["etl_without_dedup"]
    stored = bench.client.query(
        f"SELECT count(), uniqExact(symbol, trade_id) FROM {settings.clickhouse.database}.trades").result_rows[0]
    out = {"trades": n, "produce_seconds": produce_s, **last,
           "dedup_cost_ratio": etl["trades_per_s"] / etl_no_dedup["trades_per_s"],
           "ratio": etl["trades_per_s"] / baseline["trades_per_s"],
           "ratio_to_decode_only": etl["trades_per_s"] / last["decode_only"]["trades_per_s"],
           "stored_rows": int(stored[0]),
           "stored_distinct_ids": int(stored[1]), "partitions": settings.kafka.partitions,
           "max_records_per_batch": settings.max_records_per_batch,
           "rounds_trades_per_s": [{k: r[k]["trades_per_s"] for k in r} for r in rounds]}
    bench.results["etl"] = out
    return out


def _decoded_rows(df: Any) -> int:
    """A micro-batch's rows after the drain's one JSON decode, every wire field hashed so that none is pruned."""
    from pyspark.sql import functions as F

    from argos_etl.transforms import decode

    decoded = decode(df)
    fields = [c for c in decoded.columns if c not in df.columns]
    return int(decoded.agg(F.count(F.lit(1)), F.max(F.xxhash64(*fields))).first()[0])


def breakdown(bench: Bench, n: int = 100_000) -> dict[str, Any]:
    """Where a batch's time goes: the ETL's stages timed one by one on a static read of ``n`` trades.

    The stages run ``etl_rounds`` times in turn (each round into a fresh database) and the last round is reported,
    as in :func:`etl`: a first round times the JVM's compilation as much as the stages.
    """
    from pyspark.sql import functions as F

    topic = f"bench-breakdown-{uuid.uuid4().hex[:6]}"
    market = SyntheticMarket(SYMBOLS[:4], seed=13)
    bench.produce(bench.settings("bench_breakdown", topic), market.backlog(n, 1800), n, "breakdown: produce")
    raw = (bench.spark.read.format("kafka").option("kafka.bootstrap.servers", bench.bootstrap)
           .option("subscribe", topic).option("startingOffsets", "earliest").load()
           .select(F.col("value").cast("string").alias("raw"), F.lit("kafka").alias("source"),
                   F.col("timestamp").alias("arrived"))).cache()
    raw.count()  # Kafka fetch once, outside the timings
    rounds = []
    for i in range(bench.profile.etl_rounds):
        settings = bench.settings(f"bench_breakdown_{i}", topic)
        bench.migrate(settings)
        rounds.append(_breakdown_round(bench, raw, settings, f"breakdown round {i + 1}: stages"))
    raw.unpersist()
    steps = rounds[-1]
    out = {"trades": n, "seconds": steps, "rows_per_s": {k: n / v for k, v in steps.items()},
           "rounds_seconds": rounds}
    bench.results["etl_breakdown"] = out
    return out


def _breakdown_round(bench: Bench, raw: Any, settings: Settings, stage: str) -> dict[str, float]:
    from argos.clickhouse import insert_arrow
    from argos_etl.dedup import drop_stored
    from argos_etl.sink import split
    from argos_etl.transforms import decode, enrich, parse

    db = settings.clickhouse.database
    steps: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = fn()
        steps[name] = time.perf_counter() - t0
        bench.progress(stage, len(steps) / 8)
        return value

    def noop(df: Any) -> None:
        df.write.format("noop").mode("overwrite").save()

    def enriched() -> Any:
        return enrich(parse(raw), settings.whale_threshold_usd, settings.whale_thresholds)

    timed("read (cached) -> noop", lambda: noop(raw))
    timed("JSON decode alone (one from_json)", lambda: noop(decode(raw)))
    timed("parse (decode, decimals, checks)", lambda: noop(parse(raw)))
    timed("parse + enrich", lambda: noop(enriched()))
    arrow = timed("parse + enrich -> toArrow (to the driver)", lambda: enriched().toArrow())
    trades, _dead = split(arrow, 0)
    timed("de-duplication lookup, none stored yet", lambda: drop_stored(bench.client, db, trades, "bench"))
    timed("insert_arrow into ClickHouse (with MVs)", lambda: insert_arrow(
        bench.client, f"{db}.trades", trades, f"bench-{uuid.uuid4().hex}"))
    timed("de-duplication lookup, all stored (a replay)", lambda: drop_stored(bench.client, db, trades, "bench"))
    return steps


def reference(bench: Bench) -> dict[str, Any]:
    """The old design on the same trades: JSON files -> batch read.json (inference) -> per-row inserts."""
    from argos_ingest.sinks import SpoolSink

    n = bench.profile.etl_trades
    spool = bench.workdir / "reference-spool"
    shutil.rmtree(spool, ignore_errors=True)
    sink = SpoolSink(spool, max_records=5_000, max_seconds=1e9)
    for i, trade in enumerate(SyntheticMarket(SYMBOLS[:4], seed=11).backlog(n, span_seconds=3600)):
        sink.send(trade)
        if i % 50_000 == 0:
            bench.progress("reference: spool JSON", 0.3 * i / n)
    sink.close()
    db = "bench_reference"
    bench.client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    bench.client.command(f"DROP TABLE IF EXISTS {db}.trades")
    # The reference table: second-precision DateTime, float prices, no trade id.
    bench.client.command(f"CREATE TABLE {db}.trades (symbol String, price Float64, qty Float64, "
                        "trade_time DateTime, is_buyer_maker UInt8) "
                        "ENGINE = MergeTree ORDER BY (symbol, trade_time)")
    t0 = time.perf_counter()
    df = bench.spark.read.json(str(spool))  # schema inference: a full pass over the files
    infer_s = time.perf_counter() - t0
    bench.progress("reference: read.json + per-row inserts", 0.4)
    inserted, t1 = 0, time.perf_counter()
    budget = bench.profile.reference_insert_seconds
    for row in df.toLocalIterator():
        bench.client.insert(f"{db}.trades", [[row["symbol"], float(row["price"]), float(row["qty"]),
                                             datetime.fromtimestamp(row["trade_time"] / 1e6, UTC),
                                             int(row["is_buyer_maker"])]],
                           column_names=["symbol", "price", "qty", "trade_time", "is_buyer_maker"])
        inserted += 1
        if time.perf_counter() - t1 > budget:
            break
        if inserted % 200 == 0:
            bench.progress("reference: read.json + per-row inserts", 0.4 + 0.6 * (time.perf_counter() - t1) / budget)
    insert_s = time.perf_counter() - t1
    row_rate = inserted / insert_s
    total_s = infer_s + n / row_rate
    out = {"trades": n, "read_json_infer_seconds": infer_s, "rows_inserted": inserted,
           "row_insert_seconds": insert_s, "rows_per_s_insert": row_rate,
           "extrapolated_total_seconds": total_s, "trades_per_s": n / total_s,
           "note": f"per-row inserts measured for {insert_s:.0f}s ({inserted} rows), the total for {n} "
                   "trades extrapolated at that rate (inserting all would take hours)"}
    etl = bench.results.get("etl")
    if etl:
        out["argos_over_reference"] = etl["etl"]["trades_per_s"] / out["trades_per_s"]
    bench.results["reference"] = out
    return out
