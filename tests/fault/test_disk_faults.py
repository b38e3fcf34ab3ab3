"""A full disk or an unwritable spool/checkpoint directory: a clear failure, never corrupt state.

Real failures: a 1 MiB tmpfs that fills up, directories made unwritable (``chattr +i`` as root, since root
ignores permission bits; ``chmod`` otherwise).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from argos.contract import decode_trade
from argos_ingest.sinks import SpoolSink
from argos_ingest.synthetic import SyntheticMarket

from .conftest import tiny_filesystem, unwritable

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def _ingest(data_dir: Path, seconds: float = 3, rate: int = 3000) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARGOS_")}, "ARGOS_INGEST__HTTP_PORT": "0",
           "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "argos", "ingest", "--data-dir", str(data_dir), "--sink", "spool",
         "--seconds", str(seconds), "--rate", str(rate)],
        env=env, capture_output=True, text=True, timeout=120, check=False)


def _visible_files_are_whole(spool: Path) -> int:
    """Every file a reader can see parses completely; returns the number of records in them."""
    records = 0
    for path in spool.glob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            decode_trade(line)  # raises on a torn or partial record
            records += 1
    return records


def test_unwritable_spool_dir_fails_ingest_naming_the_dir(tmp_path):
    spool = tmp_path / "data" / "spool"
    spool.mkdir(parents=True)
    with unwritable([spool]) as how:
        result = _ingest(tmp_path / "data")
    output = result.stdout + result.stderr
    print(f"\nspool made unwritable via {how}: exit {result.returncode}; "
          f"last line: {output.strip().splitlines()[-1] if output.strip() else ''!r}")
    assert result.returncode != 0
    assert str(spool) in output.replace("\n", ""), "the error must name the spool directory"
    assert not list(spool.glob("*.jsonl")), "no partial files may become visible"


def test_full_disk_under_the_spool_leaves_only_whole_files(tmp_path):
    with tiny_filesystem(tmp_path / "data" / "spool", "4m") as spool:  # a few files fit, then full
        result = _ingest(tmp_path / "data", seconds=8, rate=5000)
        output = result.stdout + result.stderr
        whole = _visible_files_are_whole(spool)
        leftovers = [p.name for p in spool.iterdir() if p.name.startswith(".")]
        print(f"\n4 MiB spool filesystem: exit {result.returncode}; {whole} records in whole visible files; "
              f"hidden temp files left: {leftovers}; error: "
              f"{next((ln for ln in output.splitlines() if 'No space' in ln), '?').strip()!r}")
        assert result.returncode != 0, "ingest must fail when the spool disk is full"
        assert "No space left on device" in output
        assert whole > 0
        assert all(p.suffix == ".tmp" for p in spool.iterdir() if p.name.startswith(".")), \
            "only dot-named temp files (ignored by Spark's file source) may be left behind"


def test_unwritable_checkpoint_fails_etl_clearly_and_a_good_dir_works(etl, tmp_path):
    data = tmp_path / "data"
    bad = tmp_path / "bad-checkpoint"
    bad.mkdir()
    spool = SpoolSink(data / "spool", max_records=1_000, max_seconds=1e9)
    trades = list(SyntheticMarket(["BTCUSDT"], seed=3).backlog(5_000, span_seconds=300))
    for t in trades:
        spool.send(t)
    spool.close()

    runner = etl(data, ARGOS_SPARK__SOURCE="spool", ARGOS_SPARK__CHECKPOINT_DIR=str(bad), COLUMNS="200")
    with unwritable([bad]) as how:
        runner.start(idle_stop=5)
        code = runner.wait(180)
    text = runner.text()
    print(f"\ncheckpoint dir made unwritable via {how}: exit {code}; "
          f"{next((ln.strip() for ln in text.splitlines() if str(bad) in ln), '?')!r}")
    assert code != 0, "the ETL must not run without a writable checkpoint"
    assert str(bad) in text and "Fix:" in text, "the error must name the checkpoint directory and the fix"
    assert len(list((data / "spool").glob("*.jsonl"))) == 5, "input consumed without a checkpoint"

    good = etl(data, ARGOS_SPARK__SOURCE="spool", ARGOS_SPARK__CHECKPOINT_DIR=str(tmp_path / "good-checkpoint"))
    good.start(idle_stop=5)
    assert good.wait(240) == 0, good.tail()
    counts = good.query("SELECT count() AS n, uniqExact(trade_id) AS ids FROM argos.trades").iloc[0]
    print(f"then with a good checkpoint dir: {counts['n']} rows, {counts['ids']} distinct of {len(trades)}")
    assert counts["n"] == counts["ids"] == len(trades)


def test_checkpoint_unwritable_mid_stream_stops_etl_and_a_restart_is_exactly_once(etl, tmp_path):
    data = tmp_path / "data"
    spool = SpoolSink(data / "spool", max_records=1_000, max_seconds=1e9)
    trades = list(SyntheticMarket(["BTCUSDT", "ETHUSDT"], seed=4).backlog(20_000, span_seconds=600))
    for t in trades[:4_000]:
        spool.send(t)
    spool.flush()
    runner = etl(data, ARGOS_SPARK__SOURCE="spool", ARGOS_SPARK__TRIGGER_SECONDS="0.5",
                 ARGOS_SPARK__MAX_RECORDS_PER_BATCH="1000", COLUMNS="200")
    runner.start()
    runner.wait_commits(2)
    checkpoint = data / "checkpoints"
    folders = [checkpoint / "offsets", checkpoint / "commits", *[p for p in checkpoint.rglob("*") if p.is_dir()]]
    with unwritable(sorted(set(folders))) as how:
        for t in trades[4_000:]:
            spool.send(t)
        spool.flush()
        deadline = time.monotonic() + 120
        while runner.alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        alive = runner.alive()
        runner.stop()
    code = runner.proc.returncode
    failure = next((ln.strip() for ln in runner.text().splitlines()
                    if "Operation not permitted" in ln or "Permission denied" in ln), "?")
    runner.start(idle_stop=6)
    assert runner.wait(240) == 0, runner.tail()
    counts = runner.query("SELECT count() AS n, uniqExact(symbol, trade_id) AS ids FROM argos.trades").iloc[0]
    print(f"\ncheckpoint made unwritable mid-stream via {how}: ETL exited {code} ({failure[:160]!r}); after restart "
          f"{counts['n']} rows, {counts['ids']} distinct ids of {len(trades)}")
    assert not alive, "the ETL kept running without being able to checkpoint"
    assert code != 0
    assert counts["ids"] == len(trades), "lost trades"
    assert counts["n"] == len(trades), "duplicated trades"


def test_corrupt_state_is_not_left_by_a_failed_spool_write(tmp_path):
    """SpoolSink itself: a write that fails leaves no visible file, and the next good write succeeds."""
    spool_dir = tmp_path / "spool"
    sink = SpoolSink(spool_dir, max_records=10_000, max_seconds=1e9)
    trades = list(SyntheticMarket(["BTCUSDT"], seed=1).backlog(100, span_seconds=10))
    for t in trades[:50]:
        sink.send(t)
    with unwritable([spool_dir]), pytest.raises(OSError):
        sink.flush()
    assert not list(spool_dir.glob("*.jsonl"))
    for t in trades[50:]:
        sink.send(t)
    sink.flush()  # the buffered records were kept, so nothing is lost either
    written = [orjson.loads(line)["trade_id"] for p in spool_dir.glob("*.jsonl") for line in p.read_bytes().split()]
    print(f"\nfailed flush kept its buffer: {len(written)} records written after recovery of {len(trades)}")
    assert sorted(written) == [t.trade_id for t in trades]
