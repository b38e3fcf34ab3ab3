"""The Kafka broker is stopped and started again mid-stream: the producer and the Spark job both recover.

A broker of this test's own (``running_broker``), so restarting it cannot disturb other tests; skipped when
``KAFKA_BOOTSTRAP`` points at an external broker this test cannot restart.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from argos.settings import KafkaSettings
from argos_ingest.sinks import KafkaSink
from argos_ingest.synthetic import SyntheticMarket

from .conftest import HEAVY

pytestmark = [pytest.mark.fault, pytest.mark.kafka, pytest.mark.slow, pytest.mark.spark]

TRADES = 300_000 if HEAVY else 30_000
DOWN_SECONDS = 10 if HEAVY else 4


def _end_offsets(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP")), reason="needs a broker this test can restart")
def test_broker_restart_mid_stream_loses_and_duplicates_nothing(etl):
    from argos_testkit.kafka_broker import running_broker

    topic = "trades-restart"
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT", "SOLUSDT"], seed=9).backlog(TRADES, span_seconds=900))
    with running_broker() as broker:
        sink = KafkaSink(KafkaSettings(bootstrap=broker.bootstrap, topic=topic, partitions=3))
        sent = {"n": 0, "during_outage": 0}
        down = threading.Event()

        def produce() -> None:  # a steady stream that keeps sending while the broker is away
            for i, t in enumerate(trades[100:]):
                sink.send(t)
                sent["n"] += 1
                if down.is_set():
                    sent["during_outage"] += 1
                if i % 500 == 0:
                    time.sleep(0.05)
            sink.flush()

        runner = etl(ARGOS_SPARK__SOURCE="kafka", ARGOS_KAFKA__BOOTSTRAP=broker.bootstrap, ARGOS_KAFKA__TOPIC=topic,
                     ARGOS_SPARK__MAX_RECORDS_PER_BATCH="3000", ARGOS_SPARK__TRIGGER_SECONDS="0.5")
        for t in trades[:100]:
            sink.send(t)
        sink.flush()
        runner.start()
        runner.wait_commits(1)  # 100 trades are one batch; a stateless query runs no empty batches after it
        producer = threading.Thread(target=produce)
        producer.start()
        time.sleep(2)
        commits = runner.commits()
        t0 = time.monotonic()
        down.set()
        broker.stop()
        time.sleep(DOWN_SECONDS)
        broker.start()
        down.clear()
        outage = time.monotonic() - t0
        assert runner.alive(), f"the ETL died while the broker was away:\n{runner.tail()}"
        producer.join(timeout=300)
        assert not producer.is_alive(), "the producer never recovered"
        sink.close()
        runner.wait_commits(commits + 3, timeout=180)
        in_topic = _end_offsets(broker.bootstrap, topic)
        runner.stop()
        runner.start(idle_stop=6)
        assert runner.wait() == 0, runner.tail()

    total = TRADES
    counts = runner.query("SELECT count() AS n, uniqExact(symbol, trade_id) AS ids FROM argos.trades").iloc[0]
    print(f"\nbroker down {outage:.1f}s (stop + {DOWN_SECONDS}s + start); {sent['during_outage']} sends while it "
          f"was down; topic holds {in_topic} records; ClickHouse {counts['n']} rows, {counts['ids']} distinct ids, "
          f"of {total} sent")
    assert in_topic == total, "the producer lost or duplicated records across the restart"
    assert counts["ids"] == total, "lost trades"
    assert counts["n"] == total, "duplicated trades"
