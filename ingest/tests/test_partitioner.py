"""The ingest's partitioner puts each key where the Java client would, also after the topic grows (real broker)."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewPartitions
from kafka.partitioner.default import murmur2

from argos.settings import KafkaSettings
from argos_ingest.partitioner import KeyPartitioner
from argos_ingest.sinks import KafkaSink
from argos_ingest.synthetic import SyntheticMarket

pytestmark = pytest.mark.kafka

SYMBOLS = [f"S{i:03d}USDT" for i in range(40)]


def java_partition(key: bytes, partitions: int) -> int:
    """``Utils.toPositive(Utils.murmur2(key)) % numPartitions``: the Java client's keyed choice."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def placed(bootstrap: str, topic: str) -> dict[bytes, set[int]]:
    """Every key of the topic with the partitions its records are on."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=3_000)
    keys: dict[bytes, set[int]] = {}
    for record in consumer:
        keys.setdefault(record.key, set()).add(record.partition)
    consumer.close()
    return keys


def test_each_key_lands_on_the_java_clients_partition(kafka_bootstrap):
    topic = f"parts-{uuid.uuid4().hex[:8]}"
    sink = KafkaSink(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=5))
    assert isinstance(sink._producer.config["partitioner"], KeyPartitioner)
    for trade in SyntheticMarket(SYMBOLS, seed=3).backlog(400, span_seconds=60):
        sink.send(trade)
    sink.close()

    keys = placed(kafka_bootstrap, topic)
    assert len(keys) == len(SYMBOLS)
    assert keys == {key: {java_partition(key, 5)} for key in keys}
    assert len(set().union(*keys.values())) == 5  # 40 keys spread over every partition


def test_a_topic_that_grows_gets_the_new_count(kafka_bootstrap):
    """The remembered choice is per partition count: once the producer sees 8 partitions, keys move as the
    Java client's would (Kafka's own rule when a keyed topic grows)."""
    topic = f"grows-{uuid.uuid4().hex[:8]}"
    KafkaSink(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=3)).close()  # creates the topic
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, partitioner=KeyPartitioner(),
                             metadata_max_age_ms=200)
    keys = [f"binance:spot:{s}".encode() for s in SYMBOLS]
    before = {k: producer.send(topic, b"x", key=k).get(10).partition for k in keys}
    assert before == {k: java_partition(k, 3) for k in keys}

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_partitions({topic: NewPartitions(total_count=8)})
    admin.close()
    deadline = time.monotonic() + 30
    while len(producer.partitions_for(topic)) < 8:
        assert time.monotonic() < deadline, "the producer never saw the topic's 8 partitions"
        time.sleep(0.2)
    after = {k: producer.send(topic, b"x", key=k).get(10).partition for k in keys}
    producer.close()
    assert after == {k: java_partition(k, 8) for k in keys}
    assert after != before
