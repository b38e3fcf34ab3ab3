"""End to end on real engines: Kafka broker or spool -> Spark Structured Streaming -> embedded ClickHouse."""

from __future__ import annotations

import pytest

from argos.contract import Reject
from argos.settings import KafkaSettings
from argos_ingest.sinks import KafkaSink, SpoolSink
from argos_ingest.synthetic import SyntheticMarket

from .conftest import assert_candles_match

GARBAGE = [b"{not json", b"", b'{"v":1,"symbol":"BTCUSDT"}', "caf\u00e9 \u2603".encode(), b'[{"v":1}]']


@pytest.mark.kafka
def test_kafka_to_clickhouse_exact_counts_and_candles(kafka_bootstrap, topic, etl):
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT", "SOLUSDT"], seed=11).backlog(20_000, span_seconds=900))
    sink = KafkaSink(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=3))
    for t in trades:
        sink.send(t)
    for t in trades[:200]:  # an ingest restart re-sends what it had already sent
        sink.send(t)
    for payload in GARBAGE:
        sink.send_raw(payload)
    sink.send(Reject("binance", "field 'p' is not a decimal", '{"e":"trade","p":"x"}'))
    sink.close()

    runner = etl(ARGOS_SPARK__SOURCE="kafka", ARGOS_KAFKA__BOOTSTRAP=kafka_bootstrap, ARGOS_KAFKA__TOPIC=topic,
                 ARGOS_SPARK__MAX_RECORDS_PER_BATCH="6000")
    runner.start(idle_stop=6)
    assert runner.wait() == 0, runner.tail()

    counts = runner.query("SELECT count() AS n, uniqExact(symbol, trade_id) AS ids, countIf(is_whale) AS whales "
                          "FROM argos.trades").iloc[0]
    assert counts["n"] == counts["ids"] == len(trades)
    assert counts["whales"] == sum(t.quote >= 10_000 for t in trades)
    dead = runner.query("SELECT raw, reason, source FROM argos.dead_letters ORDER BY raw")
    assert sorted(dead["raw"]) == sorted([p.decode() for p in GARBAGE] + ['{"e":"trade","p":"x"}'])
    assert dead["reason"].str.len().min() > 5 and set(dead["source"]) == {f"kafka:{topic}"}
    assert "ingest: field 'p' is not a decimal" in set(dead["reason"])
    assert_candles_match(runner, trades)
    whales = runner.query("SELECT count() AS n FROM argos.whales").iloc[0]["n"]
    assert whales == counts["whales"]


def test_spool_to_clickhouse_exact_counts_and_candles(etl, tmp_path):
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"], seed=3).backlog(8_000, 600))
    runner = etl(ARGOS_SPARK__SOURCE="spool", ARGOS_SPARK__MAX_RECORDS_PER_BATCH="5000")  # one file a batch
    sink = SpoolSink(runner.data_dir / "spool", max_records=1_000)
    for t in trades + trades[-50:]:
        sink.send(t)
    sink.send(Reject("binance", "garbage frame", "\x00\x01"))
    sink.close()

    runner.start(idle_stop=6)
    assert runner.wait() == 0, runner.tail()

    counts = runner.query("SELECT count() AS n, uniqExact(symbol, trade_id) AS ids FROM argos.trades").iloc[0]
    assert counts["n"] == counts["ids"] == len(trades)
    dead = runner.query("SELECT raw, reason FROM argos.dead_letters")
    assert dead.to_dict("records") == [{"raw": "\x00\x01", "reason": "ingest: garbage frame"}]
    assert_candles_match(runner, trades)
    left = list((runner.data_dir / "spool").glob("*.jsonl"))
    assert len(left) <= 2, "spool files of committed batches are deleted (the last batch's on the next one)"
