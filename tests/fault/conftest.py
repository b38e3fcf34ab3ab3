"""Fault-injection harness: the real ETL (``python -m argos etl``) in a subprocess, and real failures.

Failures are real whenever this machine allows it: a directory made unwritable (``chattr +i`` as root, since
root ignores permission bits; ``chmod`` otherwise), a tmpfs that fills up, a broker process stopped and
started again. Set ``ARGOS_FAULT_PROFILE=heavy`` for larger volumes (on demand, not in CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

HEAVY = os.environ.get("ARGOS_FAULT_PROFILE", "").lower() == "heavy"

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
