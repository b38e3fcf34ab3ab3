"""The README's demo command on the embedded default, and `argos status` / `argos report` around it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

from argos_testkit.ports import free_port


def argos(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "argos", *args], capture_output=True, text=True, **kw)


def test_demo_fills_the_embedded_database_and_serves_status(tmp_path):
    data, port = tmp_path / "data", free_port()
    env = {"SPARK_LOCAL_IP": "127.0.0.1", "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "argos", "demo", "--seconds", "25", "--rate", "400", "--port", str(port),
         "--data-dir", str(data), "--symbols", "btcusdt,ethusdt,solusdt,dogeusdt"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and demo.poll() is None:  # the demo owns the DB: ask its server
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status.json", timeout=5) as r:
                    status = json.load(r)
                if status["totals"]["trades"] > 0:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert status and status["totals"]["trades"] > 0, "the demo's dashboard serves live status"
        via_cli = argos("status", "--data-dir", str(data), "--url", f"http://127.0.0.1:{port}", env=env)
        assert via_cli.returncode == 0 and "the running demo owns" in via_cli.stdout, via_cli.stdout + via_cli.stderr
        out, _ = demo.communicate(timeout=180)
    finally:
        demo.kill()
    assert demo.returncode == 0, out[-3000:]
    assert "0 duplicate ids" in out and "done" in out
    assert "dashboard: stopped with the run" in out and "serving until" not in out  # stdin is no terminal

    final = argos("status", "--data-dir", str(data), env=env)
    assert final.returncode == 0, final.stderr
    check = subprocess.run([sys.executable, "-c", CHECK, str(data / "clickhouse")], capture_output=True, text=True,
                           check=True)
    facts = json.loads(check.stdout)
    print(facts)
    assert facts["trades"] > 3_000 and facts["symbols"] == 4 and facts["trades"] == facts["ids"]
    assert facts["candle_trades"] == facts["trades"] and facts["candle_volume_matches"] == 1
    assert facts["whales"] == facts["big_quotes"] > 0
    report = argos("report", "--out", str(tmp_path / "argos.html"), "--data-dir", str(data), env=env)
    assert report.returncode == 0 and (tmp_path / "argos.html").stat().st_size > 100_000, report.stderr


CHECK = r"""
import json, sys
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
c = connect("chdb://" + sys.argv[1], ClickHouseSettings())
row = c.query('''SELECT
  (SELECT count() FROM argos.trades) AS trades,
  (SELECT uniqExact(symbol, trade_id) FROM argos.trades) AS ids,
  (SELECT uniqExact(symbol) FROM argos.trades) AS symbols,
  (SELECT sum(trades) FROM argos.candles_1m_view) AS candle_trades,
  (SELECT sum(volume) FROM argos.candles_1m_view) = (SELECT sum(qty) FROM argos.trades) AS candle_volume_matches,
  (SELECT countIf(is_whale) FROM argos.trades) AS whales,
  (SELECT countIf(quote >= 10000) FROM argos.trades) AS big_quotes''').named_results().__next__()
print(json.dumps({k: int(v) for k, v in row.items()}))
"""
