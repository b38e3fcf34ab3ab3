"""``argos bench`` names regressions against the previous report of the same profile (pure logic, no timing)."""

from __future__ import annotations

import copy

from argos_bench.compare import compare


def _report(profile: str = "full") -> dict:
    return {
        "meta": {"profile": profile, "started": "2026-11-25T00:00:00+00:00"},
        "ingest": {"argos": {"msgs_per_cpu_s": 25_000.0}},
        "etl": {"etl": {"trades_per_s": 50_000.0}, "ratio": 0.35},
        "latency": [{"rate_target": 1_000, "end_to_end": {"p50": 400.0, "p99": 900.0}}],
        "scaling": {"runs": [{"symbols": 64, "throughput_vs_1": 0.9}]},
    }


def test_a_worse_figure_in_its_bad_direction_is_a_regression() -> None:
    before, after = _report(), _report()
    after["etl"]["etl"]["trades_per_s"] = 30_000.0  # throughput down: worse
    after["latency"][0]["end_to_end"]["p99"] = 2_000.0  # latency up: worse
    after["latency"][0]["end_to_end"]["p50"] = 200.0  # latency down: better
    changes, _ = compare(before, after)
    regressed = {c.name for c in changes if c.regressed()}
    assert regressed == {"ETL drain trades/s", "E2E p99 ms @ 1,000/s"}


def test_noise_within_tolerance_and_other_profiles_are_not_compared() -> None:
    before = _report()
    after = copy.deepcopy(before)
    after["ingest"]["argos"]["msgs_per_cpu_s"] *= 0.9
    changes, _ = compare(before, after)
    assert changes and not any(c.regressed() for c in changes)
    assert compare(_report("quick"), after) == ([], "previous report is the 'quick' profile; not compared")
    assert compare(None, after) == ([], "no previous report to compare with")


def test_a_scaling_point_is_compared_only_with_one_of_the_same_backlog() -> None:
    """Reports before 2026-12-06 drained 300,000 trades at every point; a longer backlog is another measurement."""
    before, after = _report(), _report()
    before["scaling"]["runs"] = [{"symbols": 256, "partitions": 256, "throughput_vs_1": 0.7}]
    after["scaling"]["runs"] = [{"symbols": 256, "partitions": 256, "trades": 1_200_000, "throughput_vs_1": 0.5}]
    assert not [c for c in compare(before, after)[0] if c.name.startswith("scaling")]
    after["scaling"]["runs"][0]["trades"] = 300_000
    regressed = [c.name for c in compare(before, after)[0] if c.regressed()]
    assert regressed == ["scaling 256 symbols / 256 partitions, 300,000 trades, vs 1"]
