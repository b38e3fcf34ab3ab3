"""The knee's librdkafka generator sends what the production sink would: every trade, each symbol on the same
partition (ordering per symbol survives the swap), and it reaches its offered rate."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer

from argos.settings import KafkaSettings
from argos_bench.loadgen import Load, generate
from argos_ingest.sinks import ensure_topic

pytestmark = [pytest.mark.kafka]
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT")


def _partitions_by_key(bootstrap: str, topic: str, expected: int) -> dict[bytes, set[int]]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5_000)
    seen: dict[bytes, set[int]] = {}
    count = 0
    for message in consumer:
        seen.setdefault(message.key, set()).add(message.partition)
        count += 1
        if count == expected:
            break
    consumer.close()
    assert count == expected, f"{topic}: {count} of {expected} trades arrived"
    return seen


@pytest.mark.timeout(180)
def test_librdkafka_generator_matches_the_production_sink(kafka_bootstrap: str) -> None:
    topics = {}
    for producer in ("argos", "librdkafka"):
        topic = f"loadgen-{producer}-{uuid.uuid4().hex[:6]}"
        ensure_topic(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=3))
        result = generate(Load(kafka_bootstrap, topic, 2_000, 3, SYMBOLS, seed=5, producer=producer))
        assert result["rate_achieved"] >= 0.95 * 2_000, result
        topics[producer] = (topic, int(result["sent"]))
    placed = {producer: _partitions_by_key(kafka_bootstrap, topic, sent) for producer, (topic, sent) in topics.items()}
    keys = {f"synthetic:{s}".encode() for s in SYMBOLS}
    assert set(placed["librdkafka"]) == set(placed["argos"]) == keys
    for key, partitions in placed["librdkafka"].items():
        assert len(partitions) == 1, f"{key!r} spread over partitions {partitions}"
        assert partitions == placed["argos"][key], f"{key!r}: {partitions} here, {placed['argos'][key]} from the sink"
    used = {p for ps in placed["argos"].values() for p in ps}
    assert len(used) > 1, "every key on one partition: the comparison would prove nothing"
