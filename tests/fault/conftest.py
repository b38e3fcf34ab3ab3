"""Fault-injection harness: the real ETL (``python -m argos etl``) in a subprocess, and real failures.

Failures are real whenever this machine allows it: a directory made unwritable (``chattr +i`` as root, since
root ignores permission bits; ``chmod`` otherwise), a tmpfs that fills up, a broker process stopped and
started again. Set ``ARGOS_FAULT_PROFILE=heavy`` for larger volumes (on demand, not in CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

HEAVY = os.environ.get("ARGOS_FAULT_PROFILE", "").lower() == "heavy"

_READ_DB = """
import sys, pyarrow as pa
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
table = connect("chdb://" + sys.argv[1], ClickHouseSettings()).query_arrow(sys.argv[2])
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as out:
    out.write_table(table)
"""


class Etl:
    """``argos etl`` in its own process group against one data dir; the database is read after it exits."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ARGOS_")},
            "SPARK_LOCAL_IP": "127.0.0.1", "ARGOS_DATA_DIR": str(data_dir), "ARGOS_SPARK__MASTER": "local[2]",
            "ARGOS_SPARK__CONF": '{"spark.ui.enabled": "false"}', **env,
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
        folder = Path(self.env.get("ARGOS_SPARK__CHECKPOINT_DIR") or self.data_dir / "checkpoints") / "commits"
        return len([p for p in folder.iterdir() if p.name.isdigit()]) if folder.exists() else 0

    def wait_commits(self, n: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.commits() < n:
            assert self.proc and self.proc.poll() is None, f"ETL exited early:\n{self.tail()}"
            assert time.monotonic() < deadline, f"no {n} commits in {timeout}s:\n{self.tail()}"
            time.sleep(0.2)

    def wait(self, timeout: float = 300) -> int:
        assert self.proc
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"ETL still running after {timeout}s:\n{self.tail()}") from None

    def alive(self) -> bool:
        return bool(self.proc) and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def query(self, sql: str) -> pd.DataFrame:
        assert not self.alive(), "the ETL still owns the database"
        out = subprocess.run([sys.executable, "-c", _READ_DB, str(self.data_dir / "clickhouse"), sql],
                             capture_output=True, check=False)
        assert out.returncode == 0, out.stderr.decode()[-2000:]
        return pa.ipc.open_stream(out.stdout).read_pandas()


@pytest.fixture
def etl(tmp_path):
    runners: list[Etl] = []

    def make(data_dir: Path | None = None, **env: str) -> Etl:
        runner = Etl(data_dir or tmp_path / "data", **env)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


def _root() -> bool:
    return os.geteuid() == 0


def _can_chattr(probe_dir: Path) -> bool:
    probe = probe_dir / ".chattr-probe"
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, check=False).returncode == 0
    if ok:
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True, check=False)
    probe.rmdir()
    return ok


@contextlib.contextmanager
def unwritable(paths: list[Path]) -> Iterator[str]:
    """Make directories refuse new entries for real: ``chattr +i`` as root (root ignores mode bits),
    ``chmod a-w`` otherwise. Yields the method used; restores on exit."""
    if not paths:
        yield "none"
        return
    if _root():
        if not shutil.which("chattr") or not _can_chattr(paths[0].parent):
            pytest.skip("running as root without chattr/CAP_LINUX_IMMUTABLE: cannot make a directory unwritable")
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        try:
            yield "chattr +i"
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=False)
        return
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(0o555)
    try:
        yield "chmod 555"
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str = "1m") -> Iterator[Path]:
    """A real, small tmpfs at ``path`` (needs CAP_SYS_ADMIN: root in a privileged container)."""
    path.mkdir(parents=True, exist_ok=True)
    if not _root():
        pytest.skip("mounting a small tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
