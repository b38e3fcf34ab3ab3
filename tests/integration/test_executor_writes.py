"""The cluster write path: executors insert their own partitions (mapInArrow), the driver never connects.

There is no ClickHouse server here, so the executors write the embedded engine: with ``local[1]`` a single
Python worker process owns it, which chDB allows, while the driver process never opens it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from argos.contract import encode
from argos_ingest.synthetic import SyntheticMarket

SCRIPT = r"""
import sys
from datetime import UTC, datetime
from pyspark.sql import SparkSession
from argos.contract import encode
from argos.settings import load_settings
from argos_ingest.synthetic import SyntheticMarket
from argos_etl.sink import _write_from_executors
from argos_etl.transforms import enrich, parse

db_dir, n = sys.argv[1], int(sys.argv[2])
settings = load_settings(clickhouse={"url": "chdb://" + db_dir})
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
rows = [(encode(t).decode(), "test") for t in SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=9).backlog(n, 300)]
rows += [("not json", "test")]
batch = enrich(parse(spark.createDataFrame(rows, "raw string, source string").repartition(4)), 10_000, {})
received = datetime.now(UTC)
for attempt in range(2):  # a retried batch: same tokens, written once
    print(_write_from_executors(batch, 7, "query-1:7", settings, received, 4))
"""

READ = r"""
import sys, pyarrow as pa
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
c = connect("chdb://" + sys.argv[1], ClickHouseSettings())
t = c.query_arrow("SELECT (SELECT count() FROM argos.trades) AS trades, (SELECT uniqExact(symbol, trade_id) "
                  "FROM argos.trades) AS ids, (SELECT count() FROM argos.dead_letters) AS dead")
with pa.ipc.new_stream(sys.stdout.buffer, t.schema) as out:
    out.write_table(t)
"""


def test_executors_insert_partitions_idempotently(tmp_path):
    db = tmp_path / "clickhouse"
    migrate = ("from argos.clickhouse import connect; from argos_schema.migrate import migrate; "
               "from argos.settings import ClickHouseSettings; "
               f"migrate(connect('chdb://{db}', ClickHouseSettings()))")
    subprocess.run([sys.executable, "-c", migrate], check=True)
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(db), "3000"], capture_output=True, text=True,
                         env={"SPARK_LOCAL_IP": "127.0.0.1", "PATH": "/usr/bin:/bin", "PYSPARK_PYTHON": sys.executable},
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    # Counts come back from 4 partitions. The retry is the same write (same tokens): its trades, stored by its
    # first attempt, are sent again unchanged, like its dead letter, and ClickHouse drops the repeated blocks by
    # their insert tokens (so a view that missed the first attempt would get them).
    assert run.stdout.split() == ["(3000,", "1)", "(3000,", "1)"]
    out = subprocess.run([sys.executable, "-c", READ, str(db)], capture_output=True, check=True)
    counts = pa.ipc.open_stream(out.stdout).read_all().to_pylist()[0]
    assert counts == {"trades": 3000, "ids": 3000, "dead": 1}


CRASH_SCRIPT = r"""
import sys
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from argos.settings import load_settings
from argos_etl.checkpoint import SplitLog, Write
from argos_etl.job import read_source
from argos_etl.sink import _write_from_executors
from argos_etl.transforms import transform

data_dir, partitions = Path(sys.argv[1]), int(sys.argv[2])
settings = load_settings(data_dir=data_dir, clickhouse={"url": f"chdb://{data_dir}/clickhouse", "insert_retries": 0},
                         spark={"write_mode": "executors", "shuffle_partitions": partitions, "source": "spool"})
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")  # as the job's session
         .config("spark.sql.shuffle.partitions", str(partitions)).config("spark.sql.session.timeZone", "UTC")
         .getOrCreate())


splits = SplitLog(str(data_dir / "checkpoint"))


def write(batch, batch_id):  # the job's foreachBatch in executor mode, token scoped by the query id
    query_id = next(q.id for q in spark.streams.active)
    write = splits.first(batch.sparkSession, batch_id) or splits.record(
        batch_id, Write("executors", partitions, datetime.now(UTC)))
    print(_write_from_executors(batch, batch_id, f"{query_id}:{batch_id}", settings, write.received, write.parts))


query = (transform(read_source(spark, settings), settings).writeStream.foreachBatch(write)
         .option("checkpointLocation", str(data_dir / "checkpoint")).trigger(availableNow=True).start())
query.awaitTermination()
"""


def _chdb(db, sql: str) -> list[dict]:
    run = ("import sys, json; from argos.clickhouse import connect; from argos.settings import ClickHouseSettings; "
           "c = connect('chdb://' + sys.argv[1], ClickHouseSettings()); r = c.query(sys.argv[2]); "
           "print(json.dumps(list(r.named_results()) if r.column_names else []))")
    out = subprocess.run([sys.executable, "-c", run, str(db), sql], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else []


@pytest.mark.parametrize("replay_partitions", [8, 3], ids=["same-settings", "partitions-changed"])
def test_executor_crash_mid_batch_writes_dead_letters_exactly_once(tmp_path, replay_partitions):
    """A batch dies after some partitions were inserted (a view that throws from the third dead-letter insert
    on: the 'crash'); the batch is recomputed and written again, as Spark does after a failure: every dead letter
    lands once. (Before: dead letters went to partitions by uuid(), so the replay put them under other tokens.)
    Also when the restart asks for other write partitions: the replay splits the batch as its first attempt did
    (3 partitions put other dead letters under its tokens, and ClickHouse dropped those blocks: 17 of 40 lost)."""
    db = tmp_path / "clickhouse"
    spool = tmp_path / "spool"
    spool.mkdir()
    trades = SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=9).backlog(2000, 300)
    lines = [encode(t) for t in trades] + [f"garbage {i}".encode() for i in range(40)]
    (spool / "batch.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    migrate = ("from argos.clickhouse import connect; from argos_schema.migrate import migrate; "
               "from argos.settings import ClickHouseSettings; "
               f"c = connect('chdb://{db}', ClickHouseSettings()); migrate(c); "
               "c.command('CREATE TABLE argos.inserts (n UInt8) ENGINE = MergeTree ORDER BY n'); "
               "c.command('CREATE MATERIALIZED VIEW argos.count_inserts TO argos.inserts AS SELECT 1 AS n "
               "FROM argos.dead_letters LIMIT 1'); "
               "c.command(\"CREATE MATERIALIZED VIEW argos.crash ENGINE = Null AS SELECT throwIf((SELECT count() "
               "FROM argos.inserts) >= 3, 'crash') AS x FROM argos.dead_letters\")")
    subprocess.run([sys.executable, "-c", migrate], check=True)
    env = {"SPARK_LOCAL_IP": "127.0.0.1", "PATH": "/usr/bin:/bin", "PYSPARK_PYTHON": sys.executable,
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    run = [sys.executable, "-c", CRASH_SCRIPT, str(tmp_path)]
    crashed = subprocess.run([*run, "8"], capture_output=True, text=True, env=env, check=False)
    assert crashed.returncode != 0 and "Exception: crash" in crashed.stderr, crashed.stderr[-3000:]  # the view threw
    first = _chdb(db, "SELECT (SELECT count() FROM argos.trades) AS trades, "
                      "(SELECT count() FROM argos.dead_letters) AS dead")[0]
    assert first["dead"] > 0, "the crash should come after some partitions were written"
    _chdb(db, "DROP VIEW argos.crash")
    _chdb(db, "DROP VIEW argos.count_inserts")
    replay = subprocess.run([*run, str(replay_partitions)], capture_output=True, text=True, env=env, check=False)
    assert replay.returncode == 0, replay.stderr[-3000:]
    got = _chdb(db, "SELECT (SELECT count() FROM argos.trades) AS trades, (SELECT uniqExact(symbol, trade_id) "
                    "FROM argos.trades) AS ids, (SELECT count() FROM argos.dead_letters) AS dead, "
                    "(SELECT uniqExact(raw) FROM argos.dead_letters) AS distinct_dead")[0]
    print(f"executor crash: 2000 trades + 40 dead letters in; written before the crash {first}; after replay {got}")
    assert got == {"trades": 2000, "ids": 2000, "dead": 40, "distinct_dead": 40}
