"""`argos ingest` as a container's PID 1: SIGTERM stops it cleanly, SIGHUP restarts it in place (tilt live update)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def spooled(data_dir: Path) -> int:
    return sum(f.read_bytes().count(b"\n") for f in (data_dir / "spool").glob("*.jsonl"))


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.timeout(120)
def test_sighup_restarts_in_place_and_sigterm_stops_after_flushing(tmp_path: Path) -> None:
    env = {**os.environ, "ARGOS_INGEST__HTTP_PORT": "0", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "argos", "ingest", "--source", "synthetic", "--sink", "spool", "--rate", "300",
         "--data-dir", str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: spooled(tmp_path) > 100)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("SIGHUP: starting again" in line for line in lines))
        before = spooled(tmp_path)
        wait_for(lambda: spooled(tmp_path) > before + 100)  # the same process (same pid) ingests again
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        proc.kill()
    out = "".join(lines)
    assert proc.returncode == 0, out
    counted = [int(line.split()[1]) for line in lines if line.startswith("ingested ")]
    assert len(counted) == 2, out
    assert spooled(tmp_path) == sum(counted), "each stop flushed the open spool file: every record counted is on disk"
