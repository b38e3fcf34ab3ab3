"""Resident memory of the processes a streaming run uses: this driver process, the Spark JVM, the Python workers.

Read from ``/proc`` (Linux), sampled on a thread while a measurement runs, so a run reports peak RSS per role
and a series a soak can check for growth.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError, StopIteration), open(f"/proc/{pid}/status") as fh:
        return int(next(line for line in fh if line.startswith("VmRSS")).split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    kids = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                kids += [int(c) for c in (task / "children").read_text().split()]
    return kids


def roles(spark: Any) -> dict[str, list[int]]:
    """pids by role: ``driver`` (this Python), ``jvm`` (Spark's), ``workers`` (pyspark daemons and workers)."""
    jvm = getattr(getattr(spark.sparkContext._gateway, "proc", None), "pid", None)
    workers, todo = [], list(_children(jvm)) if jvm else []
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            if b"pyspark" in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(pid)
        todo += _children(pid)
    return {"driver": [os.getpid()], "jvm": [jvm] if jvm else [], "workers": workers}


class RssSampler:
    """Samples the RSS per role every ``every`` seconds until stopped; ``summary()`` gives peaks and the series."""

    def __init__(self, spark: Any, every: float = 1.0) -> None:
        self.spark, self.every = spark, every
        self.series: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            sample = {"t": round(time.monotonic() - t0, 1)}
            for role, pids in roles(self.spark).items():
                sample[role] = round(sum(rss_mib(p) for p in pids), 1)
            self.series.append(sample)
            self._stop.wait(self.every)

    def summary(self) -> dict[str, Any]:
        peaks = {f"{role}_peak_mib": max((s[role] for s in self.series), default=0.0)
                 for role in ("driver", "jvm", "workers")}
        return {**peaks, "samples": len(self.series)}
