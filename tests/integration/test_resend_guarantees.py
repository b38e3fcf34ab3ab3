"""No row dropped for being "late", no row doubled by a fresh checkpoint: the real ETL over a real broker.

Each test prints its figures (rows in, rows out) for the issue 13 report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from argos.contract import Trade
from argos.settings import KafkaSettings
from argos_ingest.sinks import KafkaSink
from argos_ingest.synthetic import SyntheticMarket

from .conftest import assert_candles_match

pytestmark = [pytest.mark.kafka, pytest.mark.spark, pytest.mark.slow]

GARBAGE = [f"garbage {i}" for i in range(7)]


def _produce(bootstrap: str, topic: str, trades: list[Trade], garbage: list[str] = ()) -> None:
    sink = KafkaSink(KafkaSettings(bootstrap=bootstrap, topic=topic, partitions=2))
    for t in trades:
        sink.send(t)
    for g in garbage:
        sink.send_raw(g.encode())
    sink.close()


def _runner(etl, bootstrap: str, topic: str, checkpoint: Path):
    return etl(ARGOS_SPARK__SOURCE="kafka", ARGOS_KAFKA__BOOTSTRAP=bootstrap, ARGOS_KAFKA__TOPIC=topic,
               ARGOS_SPARK__TRIGGER_SECONDS="0.5", ARGOS_SPARK__CHECKPOINT_DIR=str(checkpoint))


def _drain(runner) -> None:
    runner.start(idle_stop=4)
    assert runner.wait(300) == 0, runner.tail()


def _counts(runner) -> dict[str, int]:
    row = runner.query("SELECT (SELECT count() FROM argos.trades) AS rows, (SELECT uniqExact(symbol, trade_id) "
                       "FROM argos.trades) AS ids, (SELECT count() FROM argos.dead_letters) AS dead").iloc[0]
    return {k: int(v) for k, v in row.items()}


def _move_watermark_ahead(checkpoint: Path, hours: float) -> None:
    """What an NTP step back (or a restart on a node whose clock is behind) looks like to the query: the
    checkpointed watermark is ahead of every new row's processing time."""
    offsets = checkpoint / "offsets"
    last = max((p for p in offsets.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    lines = last.read_text().splitlines()
    meta = json.loads(lines[1])
    meta["batchWatermarkMs"] = int((time.time() + hours * 3600) * 1000)
    last.write_text("\n".join([lines[0], json.dumps(meta), *lines[2:]]) + "\n")


def test_clock_step_back_drops_no_row(kafka_bootstrap, topic, etl, tmp_path):
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=31).backlog(3_000, span_seconds=600))
    first, second = trades[:1_500], trades[1_500:]
    checkpoint = tmp_path / "checkpoint"
    runner = _runner(etl, kafka_bootstrap, topic, checkpoint)
    _produce(kafka_bootstrap, topic, first)
    _drain(runner)
    _move_watermark_ahead(checkpoint, hours=2)
    _produce(kafka_bootstrap, topic, second, GARBAGE)
    _drain(runner)
    got = _counts(runner)
    print(f"clock step: {len(trades)} trades + {len(GARBAGE)} garbage in; {got} out")
    assert got == {"rows": len(trades), "ids": len(trades), "dead": len(GARBAGE)}, "rows dropped as late"
    assert_candles_match(runner, trades)


def test_fresh_checkpoint_over_a_loaded_topic_doubles_nothing(kafka_bootstrap, topic, etl, tmp_path):
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=32).backlog(3_000, span_seconds=600))
    _produce(kafka_bootstrap, topic, trades)
    first = _runner(etl, kafka_bootstrap, topic, tmp_path / "checkpoint-1")
    _drain(first)
    assert _counts(first)["rows"] == len(trades)
    # A lost or deleted checkpoint: the whole retained topic is read again from the earliest offset.
    again = _runner(etl, kafka_bootstrap, topic, tmp_path / "checkpoint-2")
    _drain(again)
    got = _counts(again)
    print(f"fresh checkpoint: {len(trades)} trades in, read twice; {got} out")
    assert got["rows"] == got["ids"] == len(trades), "a fresh checkpoint doubled trades"
    assert_candles_match(again, trades)  # candles, flow: the views saw each trade once
    whales = again.query("SELECT count() AS n, uniqExact(symbol, trade_id) AS ids FROM argos.whales").iloc[0]
    assert whales["n"] == whales["ids"] == sum(t.quote >= 10_000 for t in trades)
