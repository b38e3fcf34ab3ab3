"""Compare a run with the previous report of the same profile and name what regressed.

Only headline figures are compared, each with its direction (higher or lower is better). A change beyond the
tolerance in the bad direction is a regression; the machine is noisy, so the default tolerance is wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

TOLERANCE = 0.15


@dataclass(frozen=True)
class Change:
    name: str
    before: float
    after: float
    higher_is_better: bool

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before else math.nan

    def regressed(self, tolerance: float = TOLERANCE) -> bool:
        if not (math.isfinite(self.ratio) and self.ratio > 0):
            return False
        return self.ratio < 1 - tolerance if self.higher_is_better else self.ratio > 1 + tolerance


def headline(results: dict[str, Any]) -> dict[str, tuple[float, bool]]:
    """name -> (value, higher_is_better) for the figures a regression would show in."""
    out: dict[str, tuple[float, bool]] = {}
    if ing := results.get("ingest"):
        out["ingest msgs per CPU-s"] = (ing["argos"]["msgs_per_cpu_s"], True)
    if etl := results.get("etl"):
        out["ETL drain trades/s"] = (etl["etl"]["trades_per_s"], True)
        out["ETL drain / count-only read"] = (etl["ratio"], True)
    for lat in results.get("latency", []):
        for q in ("p50", "p99"):
            via = " via spool" if lat.get("source") == "spool" else ""
            out[f"E2E {q} ms{via} @ {lat['rate_target']:,}/s"] = (lat["end_to_end"][q], False)
    if dash := results.get("dashboard"):
        out["dashboard worst p50 ms"] = (dash["p50_max_ms"], False)
    for run in (results.get("scaling") or {}).get("runs", []):
        partitions = run.get("partitions", run["symbols"])  # reports before 2026-11-26: one per symbol
        trades = run.get("trades", 300_000)  # reports before 2026-12-06: every drain 300,000
        out[f"scaling {run['symbols']} symbols / {partitions} partitions, {trades:,} trades, vs 1"] = (
            run["throughput_vs_1"], True)
    knee = results.get("knee") or {}
    for point in knee.get("points", []):
        out[f"knee p99 ms @ {point['rate_target']:,}/s"] = (point["end_to_end"]["p99"], False)
    for point in (knee.get("light_generator") or {}).get("points", []):
        out[f"knee (librdkafka generator) p99 ms @ {point['rate_target']:,}/s"] = (point["end_to_end"]["p99"], False)
    return out


def compare(previous: dict[str, Any] | None, current: dict[str, Any]) -> tuple[list[Change], str]:
    """The changes of every headline figure both runs have, and a sentence on what was compared."""
    if not previous:
        return [], "no previous report to compare with"
    if previous.get("meta", {}).get("profile") != current["meta"]["profile"]:
        return [], f"previous report is the {previous.get('meta', {}).get('profile')!r} profile; not compared"
    before, after = headline(previous), headline(current)
    changes = [Change(name, before[name][0], value, better) for name, (value, better) in after.items()
               if name in before]
    return changes, f"compared with the previous report of {previous['meta'].get('started', '?')}"
