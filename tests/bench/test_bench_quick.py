"""``argos bench --quick`` runs end to end and produces sane numbers (no timing asserts: figures are reported,
not judged). It runs in a subprocess: the suite opens its own embedded ClickHouse directory."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import orjson
import pytest

from argos_dashboards.panels import PANELS, VARIABLES

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.spark]


def _positive(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


@pytest.mark.timeout(600)
def test_bench_quick_writes_a_sane_report(tmp_path):
    out = tmp_path / "bench" / "latest.json"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARGOS_")}, "SPARK_LOCAL_IP": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, "-m", "argos_bench.cli", "--quick", "--out", str(out), "--work-dir", str(tmp_path / "work")],
        env=env, capture_output=True, text=True, timeout=590, check=False)
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stderr[-4000:]
    r = orjson.loads(out.read_bytes())
    assert not r.get("errors"), r.get("errors")
    print(f"quick bench took {r['meta']['seconds']} s")

    ingest = r["ingest"]
    assert _positive(ingest["argos"]["msgs_per_cpu_s"]) and _positive(ingest["raw_producer"]["msgs_per_cpu_s"])
    assert 0 < ingest["ratio_per_cpu"] < 5

    etl = r["etl"]
    assert etl["stored_rows"] == etl["stored_distinct_ids"] == etl["trades"], "the drain lost or doubled trades"
    assert _positive(etl["etl"]["trades_per_s"]) and _positive(etl["count_only"]["trades_per_s"])
    assert 0 < etl["ratio"] < 5
    assert etl["decode_only"]["rows"] == etl["trades"], "the decode-only baseline did not read the whole topic"
    assert 0 < etl["ratio_to_decode_only"] < 5

    ref = r["reference"]
    assert ref["rows_inserted"] > 0 and _positive(ref["trades_per_s"]) and _positive(ref["argos_over_reference"])

    assert [lat["source"] for lat in r["latency"]] == ["kafka", "spool"]  # the embedded default's path too
    for lat in r["latency"]:
        assert lat["rows"] > 0.8 * lat["rate_target"] * lat["seconds"]
        # steady state: the trades after the query's first seconds; the whole window is reported beside it
        assert 0.5 * lat["rows"] < lat["steady_rows"] < lat["rows"]
        for e2e in (lat["end_to_end"], lat["with_startup"]["end_to_end"]):
            assert 0 < e2e["p50"] <= e2e["p95"] <= e2e["p99"] < 120_000
        assert lat["rate_achieved"] > 0.8 * lat["rate_target"], "the load generator did not reach the offered rate"
        memory = lat["memory"]
        assert memory["samples"] > 0 and memory["jvm_peak_mib"] > 100 and memory["driver_peak_mib"] > 50

    dash = r["dashboard"]
    assert set(dash["queries"]) == {p.key for p in PANELS} | {f"variable:{v.name}" for v in VARIABLES}
    assert dash["trades"] >= 100_000
    assert all(q["p50"] > 0 and q["rows"] >= 0 for q in dash["queries"].values())

    assert all("skipped" in r[step] for step in ("scaling", "knee", "soak", "realtime_mode"))
    assert r["previous"]["compared"] == "no previous report to compare with"
    assert out.with_suffix(".md").read_text().startswith("# Argos benchmark")
