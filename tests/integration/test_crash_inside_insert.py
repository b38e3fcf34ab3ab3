"""A crash inside an INSERT: the real ETL (driver writes, the embedded default) replays the batch from its
checkpoint and every table ends up complete.

Two moments of a kill, each built by hand because a SIGKILL hits them only by chance (``test_exactly_once.py``,
the broker-restart test, the kill fuzzer of docs/benchmarks item 29): after the trades part committed and before a
view's did; and between a table's de-duplication record and its part's commit.
"""

from __future__ import annotations

import shutil

import pytest

from argos_ingest.sinks import SpoolSink
from argos_ingest.synthetic import SyntheticMarket
from argos_testkit.etl_process import migrate_db

from .conftest import assert_candles_match

pytestmark = pytest.mark.spark
COUNTS = ("SELECT (SELECT count() FROM argos.trades) AS trades, (SELECT uniqExact(symbol, trade_id) FROM argos.trades) "
          "AS ids, (SELECT toInt64(sum(trades)) FROM argos.candles_1m) AS in_candles, "
          "(SELECT toInt64(sum(buy_trades + sell_trades)) FROM argos.flow_1m) AS in_flow")
ALL = {"trades": 3_000, "ids": 3_000, "in_candles": 3_000, "in_flow": 3_000}

def _command(runner, sql: str) -> None:
    migrate_db(runner.data_dir / "clickhouse", sql)


@pytest.mark.parametrize(("part_rows", "replay_threads"), [(10_000, 2), (100, 2), (100, 3)],
                         ids=["whole", "two-inserts", "two-inserts-replayed-with-three-threads"])
def test_views_get_the_trades_of_a_batch_that_died_inside_its_insert(etl, part_rows, replay_threads):
    """Also where the driver writes a batch as two concurrent inserts (its trades split by trade id), and where the
    restart asks for three: the replay splits the batch as its first attempt did (argos_etl.checkpoint)."""
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=17).backlog(3_000, 600))
    runner = etl(ARGOS_SPARK__SOURCE="spool", ARGOS_CLICKHOUSE__INSERT_RETRIES="0",
                 ARGOS_SPARK__DRIVER_WRITE_PART_ROWS=str(part_rows))
    sink = SpoolSink(runner.data_dir / "spool", max_records=1_000)
    for t in trades:
        sink.send(t)
    sink.close()
    _command(runner, "ALTER TABLE argos.candles_1m ADD CONSTRAINT crash CHECK 0")

    runner.start(idle_stop=4)
    assert runner.wait(300) != 0 and "crash" in runner.text(), runner.tail()
    crashed = runner.query(COUNTS).iloc[0].to_dict()
    assert crashed["trades"] > 0 and crashed["in_candles"] == 0, crashed  # the trades part committed, no candle

    _command(runner, "ALTER TABLE argos.candles_1m DROP CONSTRAINT crash")
    runner.env["ARGOS_SPARK__DRIVER_WRITE_THREADS"] = str(replay_threads)
    runner.start(idle_stop=4)
    assert runner.wait(300) == 0, runner.tail()
    got = runner.query(COUNTS).iloc[0].to_dict()
    print(f"crash inside the insert: {crashed} stored before the replay; after it {got}")
    assert got == ALL
    assert_candles_match(runner, trades)
    parts = set(runner.query("SELECT DISTINCT splitByChar(':', write_token)[-1] AS p FROM argos.trades")["p"])
    assert parts == ({"0", "1"} if part_rows == 100 else {"driver"})  # the writes were split, or not
    assert ("parts it was first written in (the settings now ask for 3)" in runner.text()) == (replay_threads == 3)


@pytest.mark.parametrize("table", ["trades", "candles_1m"])
def test_a_part_that_a_kill_left_behind_its_dedup_record_is_written_by_the_replay(etl, table):
    """ClickHouse records an insert's block id, then commits its part; a kill in between leaves the record of a part
    that is not on disk, and the replay under the same token would be dropped as a duplicate (CI lost a batch so).
    Built here: one batch written, then that table's part removed from disk and Spark's commit of the batch
    removed (a kill before it). The restarted ETL repairs the log before opening the engine; the replay is written."""
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=23).backlog(3_000, 600))
    runner = etl(ARGOS_SPARK__SOURCE="spool")
    sink = SpoolSink(runner.data_dir / "spool", max_records=1_000)
    for t in trades:
        sink.send(t)
    sink.close()
    runner.start(idle_stop=4)
    assert runner.wait(300) == 0 and runner.commits() == 1, runner.tail()

    table_dir = (runner.data_dir / "clickhouse" / "data" / "argos" / table).resolve()
    records = "".join(p.read_text() for p in (table_dir / "deduplication_logs").iterdir()).splitlines()
    for part in {record.split("\t")[1] for record in records}:
        shutil.rmtree(table_dir / part)
    for name in ("0", ".0.crc"):
        (runner.data_dir / "checkpoints" / "commits" / name).unlink(missing_ok=True)

    runner.start(idle_stop=4)
    assert runner.wait(300) == 0, runner.tail()
    got = runner.query(COUNTS).iloc[0].to_dict()
    print(f"{table}'s part lost behind its record: after the replay {got}")
    assert got == ALL
    assert f"{table_dir}" in runner.text() and "a kill left uncommitted" in runner.text(), runner.tail()
    assert_candles_match(runner, trades)
