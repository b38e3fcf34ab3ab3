"""Exactly-once under failure: SIGTERM once, then SIGKILL the ETL (driver + JVM) mid-stream, restart each time."""

from __future__ import annotations

import threading
import time

import pytest

from argos.settings import KafkaSettings
from argos_ingest.sinks import KafkaSink
from argos_ingest.synthetic import SyntheticMarket

from .conftest import assert_candles_match

pytestmark = [pytest.mark.kafka, pytest.mark.fault]


def test_sigkill_twice_loses_nothing_and_duplicates_nothing(kafka_bootstrap, topic, etl):
    market = SyntheticMarket(["BTCUSDT", "ETHUSDT", "SOLUSDT"], seed=21)
    trades = list(market.backlog(40_000, span_seconds=1200))
    first, rest = trades[:25_000], trades[25_000:]
    sink = KafkaSink(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=3))
    for t in first:
        sink.send(t)
    sink.flush()

    def keep_producing() -> None:  # trades keep arriving while the job is killed and restarted
        for i, t in enumerate(rest):
            sink.send(t)
            if i % 1000 == 0:
                sink.flush()
                time.sleep(0.3)
        sink.flush()

    # Batches of 500+ trades go in as concurrent inserts, and every restart asks for another number of them
    # (3, 1, 2, 3): a batch in flight at a kill is replayed with the split it was first written with.
    runner = etl(ARGOS_SPARK__SOURCE="kafka", ARGOS_KAFKA__BOOTSTRAP=kafka_bootstrap, ARGOS_KAFKA__TOPIC=topic,
                 ARGOS_SPARK__MAX_RECORDS_PER_BATCH="1500", ARGOS_SPARK__TRIGGER_SECONDS="0.5",
                 ARGOS_SPARK__DRIVER_WRITE_PART_ROWS="250", ARGOS_SPARK__DRIVER_WRITE_THREADS="2")
    threads = iter("3123")

    def restart(idle_stop: float | None = None) -> None:
        runner.env["ARGOS_SPARK__DRIVER_WRITE_THREADS"] = next(threads)
        runner.start(idle_stop)

    producer = threading.Thread(target=keep_producing)
    kills = []
    runner.start()
    runner.wait_commits(2)
    assert runner.terminate() == 0, f"a clean stop on SIGTERM:\n{runner.tail()}"
    assert "stopping the query" in runner.log.read_text()
    restart()
    runner.wait_commits(runner.commits() + 2)
    producer.start()
    for _ in range(2):
        time.sleep(1.3)  # land somewhere inside a later batch
        kills.append(runner.commits())
        runner.kill()
        restart()
        runner.wait_commits(kills[-1] + 3)
    producer.join()
    sink.close()
    runner.kill()  # a third, final kill, then drain to the end
    restart(idle_stop=8)
    assert runner.wait() == 0, runner.tail()

    counts = runner.query("SELECT count() AS n, uniqExact(symbol, trade_id) AS ids FROM argos.trades").iloc[0]
    resplit = runner.text().count("parts it was first written in")
    print(f"killed after commits {kills}; {counts['n']} rows, {counts['ids']} distinct ids of {len(trades)} sent; "
          f"{resplit} batch(es) replayed in a split the settings no longer asked for")
    assert counts["ids"] == len(trades), "lost trades"
    assert counts["n"] == len(trades), "duplicated trades"
    assert_candles_match(runner, trades)  # the materialized views saw every trade exactly once too
    writes = set(runner.query("SELECT DISTINCT splitByChar(':', write_token)[-1] AS w FROM argos.trades")["w"])
    assert writes >= {"driver", "0", "1", "2"}, writes  # whole batches, and split in two and in three
    checkpoint = runner.data_dir / "checkpoints"
    assert list(checkpoint.glob("commits/*")) and not list(checkpoint.rglob("*.crc")), \
        "the checkpoint is written by plain renames on the raw local FS (argos_etl.checkpoint.local_checkpoint_conf)"
