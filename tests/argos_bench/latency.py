"""End-to-end latency at fixed offered rates, and throughput as the number of symbols/partitions grows."""


from __future__ import annotations

import time
import uuid
from typing import Any

from argos.contract import now_us
from argos_bench.harness import (
    SYMBOLS,
    Bench,
    CountingWriter,
    symbols_for,
    wait_until,
)
from argos_ingest.synthetic import SyntheticMarket


def latency(bench: Bench, rate: int, seconds: float, symbols: list[str], partitions: int | None = None,
            stage: str = "") -> dict[str, Any]:
    """Steady synthetic rate through KafkaSink -> ETL; p50/p95/p99 per stage from the stored row times."""
    from argos_ingest.sinks import KafkaSink

    stage = stage or f"latency @ {rate:,}/s"
    db = f"bench_lat_{rate}_{len(symbols)}_{uuid.uuid4().hex[:4]}"
    settings = bench.settings(db, f"bench-{db}", partitions=partitions or bench.partitions)
    bench.migrate(settings)
    sink = KafkaSink(settings.kafka)
    market = SyntheticMarket(symbols, seed=rate)
    # warm up: the query is started and has written once before the clock starts
    for t in market.trades(100, now_us() - 1000, now_us()):
        sink.send(t)
    sink.flush()
    from argos_etl.job import _QueryId, start
    from argos_etl.sink import ClickHouseBatchWriter

    writer = CountingWriter(ClickHouseBatchWriter(settings, _QueryId(bench.spark), bench.client), bench.client, db)
    query = start(bench.spark, settings, writer)
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
            bench.progress(stage, 0.8 * (now - t_start) / seconds)
            time.sleep(max(0.0, tick - (time.monotonic() - now)))
        produce_wall = time.monotonic() - t_start
        sink.close()
        wait_until(lambda: writer.rows >= sent, 120 + sent / 2_000, f"latency drain @ {rate}/s", query)
        bench.progress(stage, 1.0)
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
    row = bench.client.query(
        f"SELECT count() AS n, {cols} FROM {db}.trades WHERE trade_time >= fromUnixTimestamp64Micro({begin_us})"
    ).result_rows[0]
    out: dict[str, Any] = {"rate_target": rate, "rate_achieved": (sent - 100) / produce_wall, "seconds": seconds,
                           "rows": int(row[0]), "symbols": len(symbols), "partitions": settings.kafka.partitions,
                           "trigger_seconds": settings.spark.trigger_seconds, "batches": writer.batches}
    for (name, _), qs in zip(stages.items(), row[1:], strict=True):
        out[name] = {"p50": qs[0], "p95": qs[1], "p99": qs[2]}
    return out


def latencies(bench: Bench) -> list[dict[str, Any]]:
    out = [latency(bench, rate, bench.profile.latency_seconds, SYMBOLS[:4]) for rate in bench.profile.latency_rates]
    bench.results["latency"] = out
    return out


def scaling(bench: Bench) -> dict[str, Any]:
    if not bench.profile.scaling:
        out = {"skipped": "quick profile: scaling (1/4/16/64 symbols and partitions) runs only in the full "
                          "profile (`argos bench`)"}
        bench.results["scaling"] = out
        return out
    rows = []
    for k in bench.profile.scaling:
        settings = bench.settings(f"bench_scale_{k}", f"bench-scale-{k}-{uuid.uuid4().hex[:4]}", partitions=k)
        bench.migrate(settings)
        n = bench.profile.scaling_trades
        bench.produce(settings, SyntheticMarket(symbols_for(k), seed=k).backlog(n, 1800), n, f"scaling {k}: produce")
        drain = bench.run_etl(settings, n, 120 + n / 2_000, f"scaling {k}: drain")
        lat = latency(bench, bench.profile.scaling_rate, 15, symbols_for(k), partitions=k,
                           stage=f"scaling {k}: latency")
        rows.append({"symbols": k, "partitions": k, "drain_trades_per_s": drain["trades_per_s"],
                     "latency_p50_ms": lat["end_to_end"]["p50"], "latency_p99_ms": lat["end_to_end"]["p99"],
                     "latency_rate": lat["rate_achieved"]})
    base = rows[0]["drain_trades_per_s"]
    for r in rows:
        r["throughput_vs_1"] = r["drain_trades_per_s"] / base
    out = {"runs": rows}
    bench.results["scaling"] = out
    return out
