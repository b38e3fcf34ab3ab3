"""The real ETL (``python -m argos etl``) as a subprocess in its own process group, for tests and benchmarks.

It can be stopped cleanly (SIGTERM), killed outright (SIGKILL of driver and JVM) and restarted from its
checkpoint; its embedded database is read afterwards by a short-lived subprocess, since a process may hold
only one chDB directory open and the caller usually holds its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

_READ_DB = """
import sys, pyarrow as pa
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
table = connect("chdb://" + sys.argv[1], ClickHouseSettings()).query_arrow(sys.argv[2])
with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as out:
    out.write_table(table)
"""


_MIGRATE_DB = """
import sys
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
from argos_schema.migrate import migrate
client = connect("chdb://" + sys.argv[1], ClickHouseSettings())
migrate(client)
for sql in sys.argv[2:]:
    client.command(sql)
"""


def migrate_db(db: Path, *statements: str) -> None:
    """Migrate an embedded database, then run ``statements``, in a child that owns it only while it runs."""
    subprocess.run([sys.executable, "-c", _MIGRATE_DB, str(db), *statements], check=True)


class EtlProcess:
    """``argos etl`` against one data dir, configured only by the ``ARGOS_*`` variables given here."""

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

    def alive(self) -> bool:
        return bool(self.proc) and self.proc.poll() is None

    def commits(self) -> int:
        """Micro-batches committed to the checkpoint so far."""
        folder = Path(self.env.get("ARGOS_SPARK__CHECKPOINT_DIR") or self.data_dir / "checkpoints") / "commits"
        return len([p for p in folder.iterdir() if p.name.isdigit()]) if folder.exists() else 0

    def wait_commits(self, n: int, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while self.commits() < n:
            assert self.alive(), f"ETL exited early:\n{self.tail()}"
            assert time.monotonic() < deadline, f"no {n} commits in {timeout}s:\n{self.tail()}"
            time.sleep(0.2)

    def wait(self, timeout: float = 600) -> int:
        """Exit code of the ETL (fails with its log if it is still running after ``timeout``)."""
        assert self.proc
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"ETL still running after {timeout}s:\n{self.tail()}") from None

    def terminate(self, timeout: float = 90) -> int:
        """SIGTERM to the process group, as Ctrl-C or a pod stop: the job stops its query and exits."""
        assert self.proc
        os.killpg(self.proc.pid, signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group: the Python driver and its JVM, no cleanup at all."""
        assert self.proc
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            self.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def query(self, sql: str) -> pd.DataFrame:
        """Read the ETL's embedded database once its owner has exited."""
        assert not self.alive(), "the ETL still owns the database"
        out = subprocess.run([sys.executable, "-c", _READ_DB, str(self.data_dir / "clickhouse"), sql],
                             capture_output=True, check=False)
        assert out.returncode == 0, out.stderr.decode()[-2000:]
        return pa.ipc.open_stream(out.stdout).read_pandas()
