"""``run_suite``: every benchmark step of a profile, each beside its baseline, into one results dict."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argos_bench import latency, queries, realtime, throughput
from argos_bench.harness import SPARK_CONF, Bench, Profile, log, machine

STEPS: dict[str, Callable[[Bench], Any]] = {
    "ingest": throughput.ingest, "etl": throughput.etl, "breakdown": throughput.breakdown,
    "reference": throughput.reference, "latency": latency.latencies, "dashboard": queries.dashboard,
    "scaling": latency.scaling, "knee": latency.knee, "soak": latency.soak, "realtime": realtime.realtime,
}


@dataclass
class Run:
    profile: Profile
    workdir: Path | None = None
    keep: bool = False
    only: tuple[str, ...] = ()
    stages: list[str] = field(default_factory=lambda: list(STEPS))


def run_suite(run: Run, progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Run every measurement of ``run.profile`` and return the results (JSON-able)."""
    workdir = run.workdir or Path(tempfile.mkdtemp(prefix="argos-bench-"))
    started = time.perf_counter()
    meta = {"profile": run.profile.name, "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), "workdir": str(workdir), "spark_conf": SPARK_CONF}
    try:
        with Bench(run.profile, workdir, progress) as bench:
            for name in run.stages:
                if run.only and name not in run.only:
                    continue
                t0 = time.perf_counter()
                try:
                    STEPS[name](bench)
                except Exception as exc:  # one failed measurement must not hide the others
                    log.exception("benchmark step %s failed", name)
                    bench.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:2000]
                bench.results.setdefault("step_seconds", {})[name] = round(time.perf_counter() - t0, 1)
            results = bench.results
    finally:
        if not run.keep and run.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["seconds"] = round(time.perf_counter() - started, 1)
    return {"meta": meta, **results}
