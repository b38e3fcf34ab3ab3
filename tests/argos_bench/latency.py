"""End-to-end latency at fixed offered rates, and throughput as the number of symbols/partitions grows."""


from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from argos.contract import now_us
from argos_bench.harness import (
    SYMBOLS,
    Bench,
    CountingWriter,
    log,
    median,
    symbols_for,
    wait_until,
)
from argos_bench.loadgen import Load, generate
from argos_bench.memory import RssSampler
from argos_ingest.synthetic import SyntheticMarket

# Latency is measured after a new query's first seconds (steady state, as a long-running ETL sees it: its first
# batches plan and compile for the first time); the whole window is reported beside it (close on 2026-11-26).
SETTLE_SECONDS = 5.0


def latency(bench: Bench, rate: int, seconds: float, symbols: list[str], partitions: int | None = None,
            stage: str = "", rss_every: float = 1.0, keep_series: bool = False,
            source: str = "kafka", producer: str = "argos") -> dict[str, Any]:
    """A steady offered rate (multi-process generator) through Kafka (or the embedded default's spool files)
    -> ETL; p50/p95/p99 per stage from the stored row times (after the first ``SETTLE_SECONDS``; with them
    under ``with_startup``), and peak RSS of the driver, the JVM and the Python workers meanwhile."""
    from argos_ingest.sinks import KafkaSink, Sink, SpoolSink

    stage = stage or f"latency @ {rate:,}/s" + (" (spool)" if source == "spool" else "")
    db = f"bench_lat_{source}_{rate}_{len(symbols)}_{uuid.uuid4().hex[:4]}"
    settings = bench.settings(db, f"bench-{db}", partitions=partitions or bench.partitions, source=source,
                              data_dir=bench.workdir / db)
    bench.migrate(settings)
    sink: Sink = SpoolSink(settings.spool_dir) if source == "spool" else KafkaSink(settings.kafka)
    market = SyntheticMarket(symbols, seed=rate)
    # warm up: the query is started and has written once before the clock starts
    for t in market.trades(100, now_us() - 1000, now_us()):
        sink.send(t)
    sink.close()
    from argos_etl.job import _QueryId, start
    from argos_etl.sink import ClickHouseBatchWriter

    writer = CountingWriter(ClickHouseBatchWriter(settings, _QueryId(bench.spark), bench.client), bench.client, db)
    query = start(bench.spark, settings, writer)
    load = Load(bench.bootstrap, settings.kafka.topic, rate, seconds, tuple(symbols), seed=rate,
                spool_dir=str(settings.spool_dir) if source == "spool" else "", producer=producer)
    try:
        wait_until(lambda: writer.rows >= 100, 120, "latency warm-up", query)
        warm_sent = 0
        if not bench.warm:  # a fresh JVM's first minute (JIT, first plans) is not what a running ETL sees
            # each phase's ids 10e9 apart: a generator process adds 1e9 per process index
            for i, (warm_rate, warm_seconds) in enumerate(bench.profile.warm_up):
                warm = generate(replace(load, rate=warm_rate, seconds=warm_seconds, id_base=(50 + 10 * i) * 10**9))
                warm_sent += int(warm["sent"])
                wait_until(lambda n=100 + warm_sent: writer.rows >= n, 120, "JVM warm-up", query)
            bench.warm = True
        begin_us = now_us()
        with RssSampler(bench.spark, rss_every) as rss:
            generated: dict[str, float] = {}
            generator = threading.Thread(target=lambda: generated.update(generate(load)), daemon=True)
            generator.start()
            t_start = time.monotonic()
            while generator.is_alive():
                bench.progress(stage, 0.8 * min(1.0, (time.monotonic() - t_start) / (seconds + 3)))
                generator.join(0.5)
            if not generated:
                raise RuntimeError(f"the load generator failed at {rate}/s")
            sent = 100 + warm_sent + int(generated["sent"])
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

    def measure(since_us: int) -> Any:
        return bench.client.query(f"SELECT count() AS n, {cols} FROM {db}.trades "
                                  f"WHERE trade_time >= fromUnixTimestamp64Micro({since_us})").result_rows[0]

    whole = measure(begin_us)
    first_us = int(bench.client.query(f"SELECT toUnixTimestamp64Micro(min(trade_time)) FROM {db}.trades WHERE "
                                      f"trade_time >= fromUnixTimestamp64Micro({begin_us})").result_rows[0][0])
    settle = min(SETTLE_SECONDS, seconds / 4)
    row = measure(first_us + int(settle * 1e6))
    out: dict[str, Any] = {"source": source, "producer": producer, "rate_target": rate,
                           "rate_achieved": generated["rate_achieved"],
                           "generator_processes": generated["processes"], "seconds": seconds,
                           "memory": {**rss.summary(), **({"series": rss.series} if keep_series else {})},
                           "rows": int(whole[0]), "steady_rows": int(row[0]), "symbols": len(symbols),
                           "partitions": settings.kafka.partitions,
                           "trigger_seconds": settings.spark.trigger_seconds, "batches": writer.batches,
                           "settle_seconds": settle, "with_startup": {}}
    for (name, _), qs, all_qs in zip(stages.items(), row[1:], whole[1:], strict=True):
        out[name] = {"p50": qs[0], "p95": qs[1], "p99": qs[2]}
        out["with_startup"][name] = {"p50": all_qs[0], "p95": all_qs[1], "p99": all_qs[2]}
    return out


def latencies(bench: Bench) -> list[dict[str, Any]]:
    """Through Kafka at each profile rate, then the embedded default (spool files) at the first one."""
    seconds, rates = bench.profile.latency_seconds, bench.profile.latency_rates
    out = [latency(bench, rate, seconds, SYMBOLS[:4]) for rate in rates]
    out.append(latency(bench, rates[0], seconds, SYMBOLS[:4], source="spool"))
    bench.results["latency"] = out
    return out


def scaling(bench: Bench) -> dict[str, Any]:
    if not bench.profile.scaling:
        out = {"skipped": "quick profile: scaling (1 to 256 symbols, as keys and as partitions) runs only in "
                          "the full profile (`argos bench`)"}
        bench.results["scaling"] = out
        return out
    # Symbols as keys of the run's topic layout (a symbol stays in one partition), then as many partitions as
    # symbols (coalesced onto one read task per core). This machine's speed drifts within minutes, so each drain
    # runs right between two drains of a one-symbol topic of the same size (each into a fresh database from a fresh
    # checkpoint) and is divided by their mean; the very first one-symbol drain only warms the JVM. Partition points
    # drain a longer backlog (`scaling_partition_trades`): several of their bigger batches, so that they measure
    # throughput, not one batch and the query's start (docs/benchmarks item 45).
    n, first = bench.profile.scaling_trades, bench.profile.scaling[0]
    runs = [(k, bench.partitions, n) for k in bench.profile.scaling[1:]]
    runs += [(k, k, bench.profile.scaling_partition_trades or n) for k in bench.profile.scaling if k >= 64]

    def drain(k: int, partitions: int, topic: str, trades: int) -> float:
        settings = _scaling_settings(bench, k, partitions, "drain", topic)
        result = bench.run_etl(settings, trades, 120 + trades / 2_000, f"scaling {k}/{partitions}: drain")
        return result["trades_per_s"]

    base_topics = {n: _scaling_produce(bench, first, bench.partitions, n)}
    bases = [drain(first, bench.partitions, base_topics[n], n) for _ in range(2)]
    rows = [_scaling_row(bench, first, bench.partitions, n, bases[1])]
    for k, partitions, trades in runs:
        if trades not in base_topics:
            base_topics[trades] = _scaling_produce(bench, first, bench.partitions, trades)
        own, base = _scaling_produce(bench, k, partitions, trades), (first, bench.partitions, base_topics[trades])
        before, trades_per_s, after = (drain(*run, trades) for run in (base, (k, partitions, own), base))
        if trades == n:
            bases += [before, after]
        rows.append(_scaling_row(bench, k, partitions, trades, trades_per_s, base=(before + after) / 2))
    rows[0]["drain_trades_per_s"] = rows[0]["base_trades_per_s"] = median(bases[1:])
    rows[0]["base_drains_trades_per_s"] = bases
    out = {"runs": rows}
    bench.results["scaling"] = out
    return out


def _scaling_settings(bench: Bench, k: int, partitions: int, name: str, topic: str) -> Any:
    """A database of its own per drain: a re-drain must not find its trades stored (de-duplication skips them)."""
    settings = bench.settings(f"bench_scale_{k}_{partitions}_{name}_{uuid.uuid4().hex[:4]}", topic,
                              partitions=partitions)
    bench.migrate(settings)
    return settings


def _scaling_produce(bench: Bench, k: int, partitions: int, n: int) -> str:
    """A backlog of ``n`` trades over ``k`` symbols in a new topic of ``partitions``; returns the topic."""
    settings = bench.settings("unused", f"bench-scale-{k}-{partitions}-{uuid.uuid4().hex[:4]}", partitions=partitions)
    bench.produce(settings, SyntheticMarket(symbols_for(k), seed=k).backlog(n, 1800), n, f"scaling {k}: produce")
    return settings.kafka.topic


def _scaling_row(bench: Bench, k: int, partitions: int, trades: int, drain: float, base: float | None = None,
                 ) -> dict[str, Any]:
    """One scaling point: its drain of ``trades`` against the one-symbol drains around it, and its latency at the
    scaling rate, run as long as the latency steps: a new query's first seconds over 256 partitions are slower
    than its steady state, and a 15-second step (3.75 s settled) measured them (docs/benchmarks item 55)."""
    lat = latency(bench, bench.profile.scaling_rate, bench.profile.latency_seconds, symbols_for(k),
                  partitions=partitions, stage=f"scaling {k}/{partitions}: latency")
    return {"symbols": k, "partitions": partitions, "trades": trades, "drain_trades_per_s": drain,
            "base_trades_per_s": base or drain, "throughput_vs_1": drain / base if base else 1.0,
            "latency_p50_ms": lat["end_to_end"]["p50"], "latency_p99_ms": lat["end_to_end"]["p99"],
            "latency_rate": lat["rate_achieved"]}


P99_TARGET_MS = 1_000


def knee(bench: Bench) -> dict[str, Any]:
    """Climb the offered rate until p99 passes 1 s: the knee is the highest rate that met it, fully offered."""
    if not bench.profile.knee_rates:
        out: dict[str, Any] = {"skipped": "quick profile: the knee search runs only in the full profile"}
        bench.results["knee"] = out
        return out
    out = _climb(bench, bench.profile.knee_rates, "argos")
    # Again with a generator that leaves the pipeline most of the CPU (loadgen.LibrdkafkaSink), from 10k/s.
    if importlib.util.find_spec("confluent_kafka") is None:
        out["light_generator"] = {"skipped": "confluent-kafka is not installed: pip install -e '.[bench]'"}
        log.warning("knee with the librdkafka generator skipped: %s", out["light_generator"]["skipped"])
    else:
        out["light_generator"] = _climb(bench, [r for r in bench.profile.knee_rates if r >= 10_000], "librdkafka")
    bench.results["knee"] = out
    return out


def _climb(bench: Bench, rates: Iterable[int], producer: str) -> dict[str, Any]:
    points, best = [], None
    for rate in rates:
        point = latency(bench, rate, bench.profile.knee_seconds, SYMBOLS[:4], producer=producer,
                        stage=f"knee @ {rate:,}/s" + (f" ({producer})" if producer != "argos" else ""))
        point["met"] = point["end_to_end"]["p99"] < P99_TARGET_MS and point["rate_achieved"] >= 0.95 * rate
        points.append(point)
        if point["met"]:
            best = rate
        elif point["end_to_end"]["p99"] > 5 * P99_TARGET_MS:
            break  # well past the knee: higher rates only queue more
    return {"knee_trades_per_s": best, "producer": producer,
            "criterion": f"p99 < {P99_TARGET_MS} ms and achieved >= 0.95 x offered", "points": points}


def soak(bench: Bench, rate: int = 5_000) -> dict[str, Any]:
    """A long steady run; RSS per role in its first and last minute (after a minute of warm-up) shows growth."""
    if not bench.profile.soak_seconds:
        out: dict[str, Any] = {"skipped": "quick profile: the soak runs only in the full profile"}
        bench.results["soak"] = out
        return out
    run = latency(bench, rate, bench.profile.soak_seconds, SYMBOLS[:4], stage=f"soak @ {rate:,}/s", rss_every=5,
                  keep_series=True)
    series = run["memory"].pop("series")
    early = [s for s in series if 60 <= s["t"] < 120]
    late = [s for s in series if s["t"] >= series[-1]["t"] - 60]
    growth = {role: {"first_minute_mib": median([s[role] for s in early]),
                     "last_minute_mib": median([s[role] for s in late])} for role in ("driver", "jvm", "workers")}
    out = {"rate": rate, "seconds": bench.profile.soak_seconds, "end_to_end": run["end_to_end"],
           "rate_achieved": run["rate_achieved"], "rss": growth, "series": series}
    bench.results["soak"] = out
    return out
