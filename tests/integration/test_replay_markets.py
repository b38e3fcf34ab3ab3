"""``argos demo --replay`` of a coin-M aggTrades dump: the market comes from the file, candles and flow count
exchange trades (last - first + 1), the notional of inverse contracts is qty x contract size, whales are in USD,
and the run ends when the file and the ETL are done, not when ``--seconds`` runs out (issue 10)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

_READ_DB = """
import sys, pyarrow as pa
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
table = connect("chdb://" + sys.argv[1], ClickHouseSettings()).query_arrow(sys.argv[2])
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as out:
    out.write_table(table)
"""
START_MS = 1735689600000  # 2025-01-01 00:00 UTC


def write_dump(path: Path, rows: int = 300, seed: int = 5) -> list[tuple[int, Decimal, int, int, bool]]:
    """A coin-M aggTrades dump with a header over three minutes: (agg id, price, contracts, trades, maker)."""
    rng = random.Random(seed)
    out, first, lines = [], 900_000, ["agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,"
                                      "is_buyer_maker"]
    for i in range(rows):
        n = rng.choice([1, 1, 1, 2, 3, 7])
        contracts = rng.choice([1, 2, 5, 40, 150])  # 150 contracts x 100 USD = a 15,000 USD whale
        price = Decimal(f"{93_500 + rng.uniform(-50, 50):.1f}")
        maker = rng.random() < 0.5
        lines.append(f"{4_000_000 + i},{price},{contracts},{first},{first + n - 1},{START_MS + i * 600},"
                     f"{str(maker).lower()}")
        out.append((4_000_000 + i, price, contracts, n, maker))
        first += n
    path.write_text("\n".join(lines) + "\n")
    return out


def query(data: Path, sql: str):
    out = subprocess.run([sys.executable, "-c", _READ_DB, str(data / "clickhouse"), sql], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return pa.ipc.open_stream(out.stdout).read_pandas()


def test_demo_replays_a_coinm_dump_counting_exchange_trades(tmp_path: Path) -> None:
    dump = tmp_path / "BTCUSD_PERP-aggTrades-2025-01-01.csv"
    rows = write_dump(dump)
    data = tmp_path / "data"
    env = {"SPARK_LOCAL_IP": "127.0.0.1", "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "argos", "demo", "--replay", str(dump), "--seconds", "400",
                          "--port", "0", "--data-dir", str(data)], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, env=env, timeout=600)
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    banner = run.stderr[:1000]  # the CLI's console writes to stderr
    assert "BTCUSD_PERP" in banner and "BTCUSDT" not in banner, banner  # the file's symbol, not the defaults
    assert took < 390, f"the demo waited out --seconds after the replay ended ({took:.0f}s)"

    stored = query(data, "SELECT market, kind, inverse, toString(contract_size) AS size, count() AS n, "
                         "sum(trade_count) AS trades, toString(sum(quote)) AS notional FROM argos.trades "
                         "GROUP BY market, kind, inverse, size")
    assert stored.to_dict("records") == [{
        "market": "coinm", "kind": "perpetual", "inverse": True, "size": "100", "n": len(rows),
        "trades": sum(r[3] for r in rows), "notional": str(Decimal(100 * sum(r[2] for r in rows)))}]
    candles = query(data, "SELECT sum(trades) AS trades, sum(rows) AS aggs FROM argos.candles_1m_view")
    assert (candles["trades"][0], candles["aggs"][0]) == (sum(r[3] for r in rows), len(rows))
    flow = query(data, "SELECT sum(buy_trades) AS buys, sum(sell_trades) AS sells FROM argos.flow_1m")
    assert flow["buys"][0] == sum(r[3] for r in rows if not r[4])
    assert flow["sells"][0] == sum(r[3] for r in rows if r[4])
    whales = query(data, "SELECT count() AS n, min(quote_usd) AS low, any(rate_source) AS src FROM argos.whales")
    assert whales["n"][0] == sum(1 for r in rows if r[2] * 100 >= 10_000)
    assert whales["src"][0] == "stablecoin" and float(whales["low"][0]) >= 10_000
