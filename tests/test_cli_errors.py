"""Ordinary mistakes get one clear line naming the setting or option and the fix, and a non-zero exit: no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def argos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "argos", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "300", **(env or {})}, check=False)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def test_status_before_any_demo_says_so_and_creates_nothing(tmp_path: Path) -> None:
    done = argos("status", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1 and "No Argos database" in done.stderr and "argos demo" in done.stderr
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(("url", "code", "says"), [
    ("http://127.0.0.1:1", 1, "does not answer"),  # nothing listens on port 1
    ("localhost:8123", 2, "is not usable"),
])
def test_an_unusable_clickhouse_url_is_named_with_the_fix(url: str, code: int, says: str) -> None:
    done = argos("schema", "migrate", env={"ARGOS_CLICKHOUSE__URL": url})
    assert done.returncode == code and says in done.stderr and "ARGOS_CLICKHOUSE__URL" in done.stderr


def test_a_missing_replay_file_is_named(tmp_path: Path) -> None:
    done = argos("ingest", "--replay", str(tmp_path / "missing.zip"), "--sink", "spool", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "--replay" in done.stderr and "missing.zip" in done.stderr


def test_a_port_in_use_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = argos("ingest", "--source", "synthetic", "--sink", "spool", "--data-dir", str(tmp_path), "--seconds",
                     "1", env={"ARGOS_INGEST__HTTP_PORT": port})
        assert done.returncode == 2 and f"port {port}" in done.stderr and "ARGOS_INGEST__HTTP_PORT" in done.stderr
        done = argos("dashboard", "--port", port, "--data-dir", str(tmp_path))
        assert done.returncode == 2 and f"port {port}" in done.stderr and "--port" in done.stderr


def test_config_errors_point_at_the_option_that_set_the_value(tmp_path: Path) -> None:
    done = argos("ingest", "--symbols", "bad sym!", "--sink", "spool", "--data-dir", str(tmp_path), "--seconds", "1")
    assert done.returncode == 2 and "command-line option" in done.stderr and "ARGOS_INGEST__SYMBOLS" not in done.stderr
    done = argos("status", "--config", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "--config" in done.stderr and "ARGOS_CONFIG" not in done.stderr
