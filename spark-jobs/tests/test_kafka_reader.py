"""Argos' grouped Kafka reader (``format("argos-kafka")``, spark-jobs/kafka-reader) on a real broker."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
from kafka.structs import TopicPartition

pytestmark = pytest.mark.spark


def new_topic(bootstrap: str, partitions: int) -> str:
    topic = f"reader-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    admin.close()
    return topic


def produce(bootstrap: str, topic: str, records: dict[int, list[str]]) -> None:
    """``records`` by partition, each value sent to the partition named."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, metadata_max_age_ms=500)
    for partition, values in records.items():
        for value in values:
            producer.send(topic, value.encode(), partition=partition)
    producer.flush()
    producer.close()


class Reader:
    """A streaming query over ``topic`` that keeps every value and the shape of each micro-batch."""

    def __init__(self, spark, bootstrap: str, topic: str, checkpoint: Path, source: str = "argos-kafka", **options):
        self.values: list[str] = []
        self.batches: list[tuple[int, int]] = []  # (rows, read tasks)
        stream = (spark.readStream.format(source).option("kafka.bootstrap.servers", bootstrap)
                  .option("subscribe", topic).options(**{k: str(v) for k, v in options.items()}).load())

        def keep(df, _batch_id: int) -> None:
            rows = [r.value.decode() for r in df.select("value").collect()]
            self.values += rows
            self.batches.append((len(rows), df.rdd.getNumPartitions()))

        self.query = (stream.writeStream.foreachBatch(keep).option("checkpointLocation", str(checkpoint))
                      .trigger(processingTime="0 seconds").start())

    def drain(self) -> Reader:
        self.query.processAllAvailable()
        return self

    def stop(self) -> None:
        """Stops the query (an idle one asks Kafka for offsets back to back): a stop, not a failure."""
        self.query.stop()
        assert self.query.exception() is None


def test_every_record_of_many_partitions_is_read_once_in_capped_batches_of_few_tasks(
        spark, kafka_bootstrap, tmp_path):
    """One busy partition and eleven quiet ones: each batch holds at most maxOffsetsPerTrigger records in at most
    `tasks` read tasks, and together the batches hold every record exactly once."""
    topic = new_topic(kafka_bootstrap, 12)
    records = {0: [f"0-{i}" for i in range(2_000)], **{p: [f"{p}-{i}" for i in range(40 * p)] for p in range(1, 12)}}
    produce(kafka_bootstrap, topic, records)
    reader = Reader(spark, kafka_bootstrap, topic, tmp_path / "ck", maxOffsetsPerTrigger=700, tasks=2).drain()
    reader.stop()
    want = [v for values in records.values() for v in values]
    assert Counter(reader.values) == Counter(want) and len(reader.values) == len(want) == 4_640
    assert all(rows <= 700 and tasks <= 2 for rows, tasks in reader.batches), reader.batches
    assert len(reader.batches) == 7  # 4,640 / 700, each batch full but the last
    for partition, values in records.items():  # in each partition, Kafka's order
        mine = [v for v in reader.values if v.startswith(f"{partition}-")]
        assert mine == values, partition


def test_a_query_resumes_after_its_last_batch_also_from_a_checkpoint_of_sparks_kafka_source(
        spark, kafka_bootstrap, tmp_path):
    """Offsets are checkpointed as Spark's Kafka source writes them: a query moved from Spark's reader to this one
    (or restarted) reads on from where the last batch ended, neither re-reading nor skipping a record."""
    topic = new_topic(kafka_bootstrap, 4)
    first = {p: [f"a{p}-{i}" for i in range(100)] for p in range(4)}
    produce(kafka_bootstrap, topic, first)
    spark_source = Reader(spark, kafka_bootstrap, topic, tmp_path / "ck", source="kafka",
                          startingOffsets="earliest").drain()
    spark_source.stop()
    second = {p: [f"b{p}-{i}" for i in range(50)] for p in range(4)}
    produce(kafka_bootstrap, topic, second)
    grouped = Reader(spark, kafka_bootstrap, topic, tmp_path / "ck").drain()
    grouped.stop()
    assert Counter(spark_source.values) == Counter(v for vs in first.values() for v in vs)
    assert Counter(grouped.values) == Counter(v for vs in second.values() for v in vs)


def test_partitions_added_to_the_topic_are_read_from_their_start(spark, kafka_bootstrap, tmp_path):
    topic = new_topic(kafka_bootstrap, 2)
    produce(kafka_bootstrap, topic, {0: ["0-0"], 1: ["1-0"]})
    reader = Reader(spark, kafka_bootstrap, topic, tmp_path / "ck").drain()  # Kafka's defaults: no short metadata age
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_partitions({topic: NewPartitions(total_count=4)})
    admin.close()
    produce(kafka_bootstrap, topic, {0: ["0-1"], 2: ["2-0", "2-1"], 3: ["3-0"]})
    deadline = time.monotonic() + 60
    while len(reader.values) < 6 and time.monotonic() < deadline:
        reader.drain()
        time.sleep(0.5)
    reader.stop()
    assert sorted(reader.values) == ["0-0", "0-1", "1-0", "2-0", "2-1", "3-0"]


def test_records_deleted_before_they_were_read_stop_the_query_naming_the_fix(spark, kafka_bootstrap, tmp_path):
    """Nothing is skipped in silence: records that retention removed before the query read them end it."""
    topic = new_topic(kafka_bootstrap, 1)
    produce(kafka_bootstrap, topic, {0: [f"0-{i}" for i in range(10)]})
    reader = Reader(spark, kafka_bootstrap, topic, tmp_path / "ck").drain()
    reader.stop()
    produce(kafka_bootstrap, topic, {0: [f"0-{i}" for i in range(10, 30)]})
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.delete_records({TopicPartition(topic, 0): 20})
    admin.close()
    # Other options, so a consumer of its own: the first query's, kept for reuse, may hold records it prefetched
    # before the deletion (genuine ones, served without asking the broker).
    again = Reader(spark, kafka_bootstrap, topic, tmp_path / "ck", **{"kafkaConsumer.pollTimeoutMs": 60_000})
    with pytest.raises(Exception, match="deleted before they were read") as failure:
        again.drain()
    # The batch [10, 30) is read by two tasks; the one at [10, 20) finds its records gone.
    assert "retention.ms" in str(failure.value) and f"{topic}-0 [10, 20)" in str(failure.value)
    assert again.values == []


def test_a_topic_that_does_not_exist_stops_the_query_naming_it(spark, kafka_bootstrap, tmp_path):
    topic = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(Exception, match=f"Kafka topic '{topic}' does not exist"):
        Reader(spark, kafka_bootstrap, topic, tmp_path / "ck").drain()
