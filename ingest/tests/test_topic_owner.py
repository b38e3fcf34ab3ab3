"""``kafka.create_topic``: the ingest creates a missing topic, or waits for its owner (Strimzi's Topic Operator)."""

from __future__ import annotations

import threading
import uuid

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from argos.settings import KafkaSettings
from argos_ingest.sinks import KafkaSink, ensure_topic

pytestmark = pytest.mark.kafka


def partitions(bootstrap: str, topic: str) -> int | None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return len(admin.describe_topics([topic])[0]["partitions"]) if topic in admin.list_topics() else None
    finally:
        admin.close()


def test_a_missing_topic_is_created_with_the_settings_partitions(kafka_bootstrap):
    topic = f"owned-{uuid.uuid4().hex[:8]}"
    ensure_topic(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=3))
    assert partitions(kafka_bootstrap, topic) == 3


def test_without_create_topic_the_sink_waits_for_the_owners_topic(kafka_bootstrap):
    topic = f"awaited-{uuid.uuid4().hex[:8]}"

    def owner() -> None:
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        admin.close()

    threading.Timer(1.5, owner).start()
    KafkaSink(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=5, create_topic=False)).close()
    assert partitions(kafka_bootstrap, topic) == 2  # the owner's topic, not one the sink made with 5


def test_a_topic_that_never_comes_names_the_key_and_the_fix(kafka_bootstrap):
    topic = f"never-{uuid.uuid4().hex[:8]}"
    cfg = KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, create_topic=False)
    with pytest.raises(ConnectionError, match=r"kafka.create_topic is false\. Fix: .*ARGOS_KAFKA__CREATE_TOPIC=true"):
        ensure_topic(cfg, wait_seconds=1)
    assert partitions(kafka_bootstrap, topic) is None
