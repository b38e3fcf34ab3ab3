"""A load generator that provably reaches its offered rate: several processes, each pacing its share.

Each process owns a production ``KafkaSink`` (or ``SpoolSink``: the embedded default) and a seeded synthetic
market and sends ``rate / processes`` trades per second in 10 ms ticks, stamped with the current time (so
end-to-end latency is measured from the moment a trade is "made"). Processes are spawned, not forked: the
parent holds a Spark JVM. The achieved rate is reported from what was really sent, so an overloaded
generator shows instead of hiding the knee.

``producer="librdkafka"`` swaps the production sink for confluent-kafka with the same producer settings: the
production sink (kafka-python) cost ~55 us of CPU per trade, so at 20k/s the generator alone took 1.3 of this
machine's 2 cores (~0.7 of that since docs/benchmarks item 42); librdkafka costs ~18 us. It measures the
pipeline's knee with the ingest's CPU mostly out of the way, as on a cluster where the ingest has cores of its
own (docs/benchmarks item 34).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argos.contract import Trade, encode
from argos_ingest.sinks import PRODUCER_SETTINGS

PER_PROCESS_MAX = {"argos": 5_000, "librdkafka": 10_000}  # trades/s one process sustains here beside Spark


@dataclass(frozen=True)
class Load:
    bootstrap: str
    topic: str
    rate: float
    seconds: float
    symbols: tuple[str, ...]
    seed: int = 0
    spool_dir: str = ""  # set: write the embedded default's spool files instead of the Kafka topic
    id_base: int = 0  # moves every trade id: loads sent to one topic must not share ids
    producer: str = "argos"  # "argos": the production KafkaSink; "librdkafka": confluent-kafka, same settings


def processes_for(rate: float, producer: str = "argos") -> int:
    return max(1, min(mp.cpu_count() * 2, -(-int(rate) // PER_PROCESS_MAX[producer])))


class LibrdkafkaSink:
    """The production sink's producer settings on librdkafka; keys land on the same partitions (murmur2)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Producer

        self.topic, self.failed = topic, 0
        self._producer = Producer({
            "bootstrap.servers": bootstrap, **{key.replace("_", "."): v for key, v in PRODUCER_SETTINGS.items()},
            "partitioner": "murmur2_random", "queue.buffering.max.messages": 100_000})

    def _delivered(self, error: object, _message: object) -> None:
        self.failed += error is not None

    def send(self, trade: Trade) -> None:
        while True:
            try:
                self._producer.produce(self.topic, encode(trade), trade.key, on_delivery=self._delivered)
                break
            except BufferError:  # 100k records await acknowledgement, as the production sink's limit
                self._producer.poll(0.01)
        self._producer.poll(0)

    def close(self) -> None:
        left = self._producer.flush(60)
        if left or self.failed:
            raise RuntimeError(f"librdkafka generator: {left} record(s) unsent, {self.failed} failed")


def _produce(load: Load, share: float, index: int, start_at: float, out: Any) -> None:
    from argos.contract import now_us
    from argos.settings import KafkaSettings
    from argos_ingest.sinks import KafkaSink, Sink, SpoolSink
    from argos_ingest.synthetic import SyntheticMarket

    sink: Sink | LibrdkafkaSink = (
        SpoolSink(Path(load.spool_dir)) if load.spool_dir
        else LibrdkafkaSink(load.bootstrap, load.topic) if load.producer == "librdkafka"
        else KafkaSink(KafkaSettings(bootstrap=load.bootstrap, topic=load.topic), check_topic=False))
    # Its own seed and id range: the ETL would rightly drop another process's trade with the same id.
    market = SyntheticMarket(list(load.symbols), seed=load.seed + index, id_offset=load.id_base + index * 1_000_000_000)
    while time.time() < start_at:
        time.sleep(0.001)
    t0, sent, last_us = time.monotonic(), 0, now_us()
    while (elapsed := time.monotonic() - t0) < load.seconds:
        due = int(share * elapsed) - sent
        if due > 0:
            t1 = now_us()
            for trade in market.trades(due, max(last_us, t1 - 1_000_000), t1):
                sink.send(trade)
            sent, last_us = sent + due, t1
        time.sleep(max(0.0, 0.01 - (time.monotonic() - t0 - elapsed)))
    wall = time.monotonic() - t0
    sink.close()
    out.put((sent, wall))


def generate(load: Load, processes: int | None = None) -> dict[str, float]:
    """Offer ``load.rate`` trades/s for ``load.seconds``; returns what was sent and the achieved rate."""
    n = processes or processes_for(load.rate, load.producer)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0  # every process imported and connected before the clock starts
    procs = [ctx.Process(target=_produce, args=(load, load.rate / n, i, start_at, out), daemon=True)
             for i in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=load.seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    sent = sum(r[0] for r in results)
    wall = max(r[1] for r in results)
    return {"sent": sent, "processes": n, "rate_target": load.rate, "rate_achieved": sent / wall}
