"""The broker goes away long enough for queued records to expire: the ingest says so and stops (no silent
loss), and once the broker is back a restart resumes after the topic's tail and backfills the rest."""

from __future__ import annotations

import os
import time

import pytest

from argos_testkit.ingest_process import FakeExchange, ingest, missing, topic_ids

pytestmark = [pytest.mark.fault, pytest.mark.kafka, pytest.mark.slow]
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP")), reason="needs a broker this test can stop")
def test_expired_batches_stop_the_ingest_and_nothing_is_lost(tmp_path):
    from argos_testkit.kafka_broker import running_broker

    topic = "trades-delivery"
    exchange = FakeExchange(market="spot", symbols=SYMBOLS, rate=300, seed=17)
    try:
        with running_broker() as broker:
            kafka = {"ARGOS_INGEST__SINK": "kafka", "ARGOS_KAFKA__BOOTSTRAP": broker.bootstrap,
                     "ARGOS_KAFKA__TOPIC": topic, "ARGOS_KAFKA__DELIVERY_TIMEOUT_MS": "3000"}
            first = ingest(exchange, tmp_path, SYMBOLS, 120, **kafka)
            time.sleep(6)
            assert first.poll() is None, first.communicate()[0][-3000:]
            t0 = time.monotonic()
            broker.stop()
            out, _ = first.communicate(timeout=90)  # it must stop by itself, well before its 120 s
            stopped_after = time.monotonic() - t0
            broker.start()
            second = ingest(exchange, tmp_path, SYMBOLS, 6, **kafka)
            out2, _ = second.communicate(timeout=120)
            assert second.returncode == 0, out2[-3000:]
            ids = topic_ids(broker.bootstrap, topic)
    finally:
        exchange.stop()
    figures = {s: {"records": len(v), "distinct": len(set(v)), "missing": missing(v)} for s, v in ids.items()}
    print(f"broker outage: ingest stopped {stopped_after:.1f}s after the broker, exit {first.returncode}; "
          f"topic after the restart {figures}")
    assert first.returncode == 1, out[-3000:]
    assert "not delivered to Kafka" in out and "stops instead of losing them silently" in out, out[-3000:]
    assert sorted(ids) == SYMBOLS
    for symbol, seen in ids.items():
        assert missing(seen) == 0, f"{symbol}: {missing(seen)} ids lost"
