"""The ingest restarts mid-stream while the exchange keeps trading: it resumes after the topic's last record
per symbol and backfills the ids made while it was down (real broker, fake Binance, real subprocesses)."""

from __future__ import annotations

import time

import pytest

from argos_testkit.ingest_process import FakeExchange, ingest, missing, topic_ids

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def test_restart_mid_stream_leaves_no_gap(kafka_bootstrap, topic, tmp_path):
    exchange = FakeExchange(market="spot", symbols=SYMBOLS, rate=300, seed=13)
    kafka = {"ARGOS_INGEST__SINK": "kafka", "ARGOS_KAFKA__BOOTSTRAP": kafka_bootstrap, "ARGOS_KAFKA__TOPIC": topic}
    try:
        first = ingest(exchange, tmp_path, SYMBOLS, 5, **kafka)
        out, _ = first.communicate(timeout=120)
        assert first.returncode == 0, out[-3000:]
        down_from = {s: exchange.fake.last_id(s) for s in SYMBOLS}
        time.sleep(3)  # the exchange keeps trading while no ingest runs
        down_to = {s: exchange.fake.last_id(s) for s in SYMBOLS}
        second = ingest(exchange, tmp_path, SYMBOLS, 5, **kafka)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 0, out[-3000:]
    finally:
        exchange.stop()
    ids = topic_ids(kafka_bootstrap, topic)
    made_while_down = sum(down_to[s] - down_from[s] for s in SYMBOLS)
    figures = {s: {"records": len(v), "distinct": len(set(v)), "missing": missing(v)} for s, v in ids.items()}
    print(f"ingest restart: {made_while_down} trades made while down; topic {figures}")
    assert sorted(ids) == SYMBOLS
    assert made_while_down > 100
    for symbol, seen in ids.items():
        assert missing(seen) == 0, f"{symbol}: {missing(seen)} ids never reached the topic"
        assert len(seen) == len(set(seen)), f"{symbol}: re-sent ids"  # the seed is exact: no overlap either
