"""ClickHouse refuses writes for T seconds mid-stream: the sink retries with backoff, nothing is lost or doubled.

A ClickHouse *server* is not available on this machine, so the outage is a real failure of the embedded
engine instead of an injected exception: every table directory of the ETL's chDB database is made
unwritable (``chattr +i`` as root, ``chmod`` otherwise) for ``OUTAGE_SECONDS``. Each insert then fails inside
ClickHouse ("create_directories: Operation not permitted"); ``argos.clickhouse.insert_arrow`` retries the same
block with the same deduplication token until the directories are writable again.
"""

from __future__ import annotations

import re
import time

import pytest

from argos_ingest.sinks import SpoolSink
from argos_ingest.synthetic import SyntheticMarket

from .conftest import HEAVY, unwritable

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.spark]

OUTAGE_SECONDS = 20 if HEAVY else 6
TRADES = 200_000 if HEAVY else 30_000


def test_inserts_retry_through_a_clickhouse_outage_and_lose_nothing(etl, tmp_path):
    data = tmp_path / "data"
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=5).backlog(TRADES, span_seconds=600))
    spool = SpoolSink(data / "spool", max_records=1_000, max_seconds=1e9)
    runner = etl(data, ARGOS_SPARK__SOURCE="spool", ARGOS_SPARK__TRIGGER_SECONDS="0.5",
                 ARGOS_SPARK__MAX_RECORDS_PER_BATCH="2000")
    first = TRADES // 3
    for t in trades[:first]:
        spool.send(t)
    spool.flush()
    runner.start()
    runner.wait_commits(2)

    tables = [p for p in (data / "clickhouse" / "store").glob("*/*") if p.is_dir()]
    assert tables, "no chDB table directories found"
    commits_before = runner.commits()
    with unwritable(tables) as how:
        began = time.monotonic()
        for t in trades[first:]:  # trades keep arriving during the outage
            spool.send(t)
        spool.flush()
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - began)))
        commits_during = runner.commits() - commits_before
        assert runner.alive(), f"the ETL died during the outage:\n{runner.tail()}"
    recovered = time.monotonic()
    runner.wait_commits(runner.commits() + 2, timeout=120)
    catch_up = time.monotonic() - recovered
    runner.stop()  # drain the rest in a fresh run, stopping once idle
    runner.start(idle_stop=6)
    assert runner.wait() == 0, runner.tail()

    log = runner.text()
    retries = len(re.findall(r"retry \d+/\d+ in", log))  # insert_arrow's warning (wrapped by rich)
    counts = runner.query(
        "SELECT count() AS n, uniqExact(symbol, trade_id) AS ids, "
        "(SELECT sum(trades) FROM argos.candles_1m) AS candle_trades FROM argos.trades").iloc[0]
    print(f"\noutage {OUTAGE_SECONDS}s via {how}: {retries} insert retries logged, {commits_during} batches "
          f"committed during the outage, caught up {catch_up:.1f}s after recovery; {counts['n']} rows, "
          f"{counts['ids']} distinct ids, {counts['candle_trades']} trades in candles, of {TRADES} sent")
    assert retries >= 1, "no insert failed: the outage did not reach ClickHouse"
    assert commits_during <= 1, "batches kept committing while ClickHouse refused writes (data skipped?)"
    assert counts["ids"] == TRADES, "lost trades"
    assert counts["n"] == TRADES, "duplicated trades"
    assert counts["candle_trades"] == TRADES, "the materialized views lost or doubled a block"
