"""The cluster write path: executors insert their own partitions (mapInArrow), the driver never connects.

There is no ClickHouse server here, so the executors write the embedded engine: with ``local[1]`` a single
Python worker process owns it, which chDB allows, while the driver process never opens it.
"""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa

SCRIPT = r"""
import sys
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
for attempt in range(2):  # a retried batch: same tokens, written once
    print(_write_from_executors(batch, 7, "query-1:7", settings))
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
    assert run.stdout.split() == ["(3000,", "1)", "(3000,", "1)"]  # counts come back from 4 partitions
    out = subprocess.run([sys.executable, "-c", READ, str(db)], capture_output=True, check=True)
    counts = pa.ipc.open_stream(out.stdout).read_all().to_pylist()[0]
    assert counts == {"trades": 3000, "ids": 3000, "dead": 1}
