"""`argos ingest --source binance` against the local fake Binance (faults on), then the ETL: the ids that
reach ClickHouse are contiguous per symbol, the garbage frames are dead letters, metrics were served."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import urllib.request

from argos_testkit import FakeBinance, Fault
from argos_testkit.ports import free_port

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
GARBAGE = "{this is not json"


class FakeExchange:
    """The fake exchange on its own event loop in a background thread."""

    def __init__(self, **kw) -> None:
        self.loop = asyncio.new_event_loop()
        self.fake = FakeBinance(**kw)
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)

    def call(self, fn, *args) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_binance_ingest_with_faults_to_clickhouse(tmp_path, etl):
    faults = [Fault("skip", after=300, count=25), Fault("garbage", after=500, frame=GARBAGE),
              Fault("drop", after=800), Fault("skip", after=1000, symbol="ETHUSDT", count=40),
              Fault("shutdown", after=1300)]
    exchange = FakeExchange(market="spot", symbols=SYMBOLS, rate=400, seed=4, faults=faults)
    runner = etl(ARGOS_SPARK__SOURCE="spool")
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARGOS_")},
           "ARGOS_DATA_DIR": str(runner.data_dir), "ARGOS_INGEST__HTTP_PORT": str(port),
           "ARGOS_INGEST__BINANCE_WS_URL": exchange.fake.ws_url,
           "ARGOS_INGEST__BINANCE_REST_URL": exchange.fake.rest_url}
    try:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "argos", "ingest", "--source", "binance", "--sink", "spool",
             "--symbols", ",".join(SYMBOLS), "--seconds", "9"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        time.sleep(6)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert r.status == 200
        out, _ = ingest.communicate(timeout=60)
        assert ingest.returncode == 0, out[-3000:]
        fired = [f.kind for f in exchange.fake.fired]
    finally:
        exchange.stop()
    assert {"skip", "garbage", "drop", "shutdown"} <= set(fired), fired
    assert "argos_ingest_messages_total" in metrics and 'symbol="BTCUSDT"' in metrics

    runner.start(idle_stop=5)
    assert runner.wait() == 0, runner.tail()
    ids = runner.query("SELECT symbol, count() AS n, uniqExact(trade_id) AS ids, min(trade_id) AS lo, "
                       "max(trade_id) AS hi FROM argos.trades GROUP BY symbol ORDER BY symbol")
    print(ids.to_string())
    assert list(ids["symbol"]) == SYMBOLS
    for row in ids.itertuples():
        assert row.n == row.ids == row.hi - row.lo + 1, f"{row.symbol}: gaps or duplicates"
        assert row.n > 500
    dead = runner.query("SELECT raw, reason FROM argos.dead_letters")
    assert GARBAGE in set(dead["raw"]) and dead["reason"].str.startswith("ingest: ").all(), dead.to_string()
