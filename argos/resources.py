"""Locate the data files a component ships beside its code (SQL migrations, the Grafana JSON).

A wheel carries them inside the package (``argos_schema/migrations``); a source checkout keeps them in the
component folder next to the package (``clickhouse-schema/migrations``). Both are tried, so ``pip install .``
and ``pip install -e .`` behave the same.
"""

from __future__ import annotations

from pathlib import Path


def component_dir(package_file: str, name: str) -> Path:
    """``name`` inside the package of ``package_file`` (a wheel), else beside that package (a checkout)."""
    package = Path(package_file).resolve().parent
    for candidate in (package / name, package.parent / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name!r} is neither bundled in {package} nor beside it in a source checkout")
