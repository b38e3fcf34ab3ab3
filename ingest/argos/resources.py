"""Locate the SQL and dashboard definitions shipped beside the code.

A wheel carries them inside the package (``argos/_bundled/<name>``); a source checkout keeps them at
the repository root. Both are tried so ``pip install .`` and ``pip install -e .`` behave the same.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Directory of a top-level resource folder such as ``clickhouse-schema``."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"resource folder {name!r} is neither bundled nor in a source checkout")
