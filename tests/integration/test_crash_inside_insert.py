"""A crash inside an INSERT, after the trades part committed and before a view's did: the real ETL (driver
writes, the embedded default) replays the batch from its checkpoint and every view ends up complete.

The crash is a constraint that refuses the candles' rows (a kill at that moment leaves the same state); the
SIGKILL test in ``test_exactly_once.py`` hits this moment only by chance, about one run in twenty.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from argos_ingest.sinks import SpoolSink
from argos_ingest.synthetic import SyntheticMarket

from .conftest import assert_candles_match

pytestmark = pytest.mark.spark

_COMMAND = ("import sys; from argos.clickhouse import connect; from argos.settings import ClickHouseSettings; "
            "from argos_schema.migrate import migrate; c = connect('chdb://' + sys.argv[1], ClickHouseSettings()); "
            "migrate(c); c.command(sys.argv[2])")


def _command(runner, sql: str) -> None:
    subprocess.run([sys.executable, "-c", _COMMAND, str(runner.data_dir / "clickhouse"), sql], check=True)


def test_views_get_the_trades_of_a_batch_that_died_inside_its_insert(etl):
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=17).backlog(3_000, 600))
    runner = etl(ARGOS_SPARK__SOURCE="spool", ARGOS_CLICKHOUSE__INSERT_RETRIES="0")
    sink = SpoolSink(runner.data_dir / "spool", max_records=1_000)
    for t in trades:
        sink.send(t)
    sink.close()
    _command(runner, "ALTER TABLE argos.candles_1m ADD CONSTRAINT crash CHECK 0")

    runner.start(idle_stop=4)
    assert runner.wait(300) != 0 and "crash" in runner.text(), runner.tail()
    sql = ("SELECT (SELECT count() FROM argos.trades) AS trades, (SELECT uniqExact(symbol, trade_id) FROM "
           "argos.trades) AS ids, (SELECT toInt64(sum(trades)) FROM argos.candles_1m) AS in_candles, "
           "(SELECT toInt64(sum(buy_trades + sell_trades)) FROM argos.flow_1m) AS in_flow")
    crashed = runner.query(sql).iloc[0].to_dict()
    assert crashed["trades"] > 0 and crashed["in_candles"] == 0, crashed  # the trades part committed, no candle

    _command(runner, "ALTER TABLE argos.candles_1m DROP CONSTRAINT crash")
    runner.start(idle_stop=4)
    assert runner.wait(300) == 0, runner.tail()
    got = runner.query(sql).iloc[0].to_dict()
    print(f"crash inside the insert: {crashed} stored before the replay; after it {got}")
    assert got == {"trades": 3_000, "ids": 3_000, "in_candles": 3_000, "in_flow": 3_000}
    assert_candles_match(runner, trades)
