"""Pipeline harness: run the real ETL (``argos etl``) as a subprocess and read what it wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from argos.contract import Trade

pytestmark = pytest.mark.slow


_READ_DB = """
import sys, pyarrow as pa
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
table = connect("chdb://" + sys.argv[1], ClickHouseSettings()).query_arrow(sys.argv[2])
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as out:
    out.write_table(table)
"""


class EtlRunner:
    """Starts, kills and restarts ``argos etl`` in its own process group against one data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ARGOS_")},  # only what the test sets
            "SPARK_LOCAL_IP": "127.0.0.1", "ARGOS_DATA_DIR": str(data_dir),
            "ARGOS_SPARK__MASTER": "local[2]", "ARGOS_SPARK__CONF": '{"spark.ui.enabled": "false"}', **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "etl.log"
        data_dir.mkdir(parents=True, exist_ok=True)

    def start(self, idle_stop: float | None = None) -> None:
        cmd = [sys.executable, "-m", "argos", "etl"] + (["--idle-stop", str(idle_stop)] if idle_stop else [])
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def commits(self) -> int:
        folder = self.data_dir / "checkpoints" / "commits"
        return len([p for p in folder.iterdir() if p.name.isdigit()]) if folder.exists() else 0

    def wait_commits(self, n: int, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while self.commits() < n:
            assert self.proc and self.proc.poll() is None, f"ETL exited early:\n{self.tail()}"
            assert time.monotonic() < deadline, f"no {n} commits in {timeout}s:\n{self.tail()}"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole process group: the Python driver and its JVM, no cleanup at all."""
        assert self.proc
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 90) -> int:
        """SIGTERM, as Kubernetes stops a pod: the job stops its query gracefully and exits."""
        assert self.proc
        os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout)

    def wait(self, timeout: float = 600) -> None:
        assert self.proc
        code = self.proc.wait(timeout)
        assert code == 0, f"ETL failed ({code}):\n{self.tail()}"

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def query(self, sql: str) -> pd.DataFrame:
        """Read the ETL's embedded database once its owner has exited.

        A short-lived subprocess opens it, since this test process keeps its own chDB directory open.
        """
        assert not self.proc or self.proc.poll() is not None, "the ETL still owns the database"
        out = subprocess.run(
            [sys.executable, "-c", _READ_DB, str(self.data_dir / "clickhouse"), sql],
            capture_output=True, check=False,
        )
        assert out.returncode == 0, out.stderr.decode()[-2000:]
        return pa.ipc.open_stream(out.stdout).read_pandas()


@pytest.fixture
def etl(tmp_path):
    runners: list[EtlRunner] = []

    def make(**env: str) -> EtlRunner:
        runner = EtlRunner(tmp_path / "data", env)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


@pytest.fixture
def topic() -> str:
    return f"trades-{uuid.uuid4().hex[:8]}"


def expected_candles(trades: Iterable[Trade]) -> pd.DataFrame:
    """1-minute OHLCV, VWAP and taker flow computed independently with pandas."""
    df = pd.DataFrame(
        {"symbol": t.symbol, "trade_id": t.trade_id, "price": float(t.price), "qty": float(t.qty),
         "quote": float(t.quote), "buy": not t.is_buyer_maker, "trade_time": t.trade_time}
        for t in trades
    )
    df["minute"] = df["trade_time"] // 60_000_000 * 60  # epoch seconds of the minute
    df = df.sort_values(["symbol", "trade_time", "trade_id"])
    df["buy_volume"] = df["qty"].where(df["buy"], 0.0)
    df["sell_volume"] = df["qty"].where(~df["buy"], 0.0)
    out = df.groupby(["symbol", "minute"]).agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"), close=("price", "last"),
        volume=("qty", "sum"), quote_volume=("quote", "sum"), trades=("price", "size"),
        buy_volume=("buy_volume", "sum"), sell_volume=("sell_volume", "sum"),
    )
    out["vwap"] = out["quote_volume"] / out["volume"]
    return out.reset_index()


CANDLES_SQL = """
SELECT c.symbol AS symbol, toInt64(toUnixTimestamp(c.minute)) AS minute, toFloat64(c.open) AS open,
       toFloat64(c.high) AS high, toFloat64(c.low) AS low, toFloat64(c.close) AS close, toFloat64(c.volume) AS volume,
       toFloat64(c.quote_volume) AS quote_volume, c.trades AS trades, toFloat64(c.vwap) AS vwap,
       toFloat64(f.buy_volume) AS buy_volume, toFloat64(f.sell_volume) AS sell_volume
FROM argos.candles_1m_view AS c
INNER JOIN (SELECT symbol, minute, sum(buy_volume) AS buy_volume, sum(sell_volume) AS sell_volume
            FROM argos.flow_1m GROUP BY symbol, minute) AS f USING (symbol, minute)
ORDER BY symbol, minute
"""


def assert_candles_match(runner: EtlRunner, trades: list[Trade]) -> None:
    got = runner.query(CANDLES_SQL)
    want = expected_candles(trades)
    got = got.astype({"trades": "int64"})
    pd.testing.assert_frame_equal(
        got[want.columns].reset_index(drop=True), want.reset_index(drop=True), check_dtype=False, rtol=1e-9
    )
