"""Crash repair of the embedded engine's insert de-duplication logs, run before the engine opens its directory.

A non-replicated MergeTree table (``non_replicated_deduplication_window``) records an insert's block id in
``deduplication_logs/`` and then commits the part (ClickHouse's ``MergeTreeSink``: ``addPart`` ->
``renameTempPartAndAdd`` -> ``commit``; ClickHouse/ClickHouse PR #110429's review, 2026-07). A kill between the
two leaves the record of a part that never committed, and the replay of that insert under the same
``insert_deduplication_token`` is then dropped as a duplicate: the batch is lost to that table (``trades`` or
any view's table; found by the broker-restart test in CI and by a kill fuzzer, docs/benchmarks item 29).

So, while no process holds the directory, every ADD record whose part no part on disk covers gets a DROP record
in the log's own format, as ClickHouse writes when a part is dropped; the replay is then inserted. Replicated
tables (the Kubernetes deployment) commit the block id and the part in one Keeper transaction and need none of it.
"""

from __future__ import annotations

import fcntl
import logging
import re
from collections import defaultdict
from pathlib import Path

log = logging.getLogger(__name__)
# <partition>_<min block>_<max block>_<level>[_<mutation>]; partition ids hold no "_"
_PART = re.compile(r"^(?P<partition>[^_]+)_(?P<min>\d+)_(?P<max>\d+)_\d+(?:_\d+)?$")
_ADD, _DROP = "1", "2"


def _block_ranges(table: Path) -> dict[str, list[tuple[int, int]]]:
    """Each partition's block-number ranges of the parts on disk (merged parts cover their sources)."""
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for entry in table.iterdir():
        if entry.is_dir() and (m := _PART.match(entry.name)):
            ranges[m["partition"]].append((int(m["min"]), int(m["max"])))
    return ranges


def _covered(part: str, ranges: dict[str, list[tuple[int, int]]]) -> bool:
    m = _PART.match(part)
    if m is None:
        return True  # a name this code does not know: leave its record alone
    low, high = int(m["min"]), int(m["max"])
    return any(a <= low and high <= b for a, b in ranges.get(m["partition"], ()))


def repair_table(table: Path) -> list[str]:
    """Drop the records of ``table`` whose parts never committed; return those parts' names."""
    logs = sorted((table / "deduplication_logs").glob("deduplication_log_*.txt"),
                  key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    live: dict[str, str] = {}  # block id -> part, as the engine loads it
    for path in logs:
        text = path.read_text()
        if text and not text.endswith("\n"):  # a record cut by the kill: its part never committed either
            text = text[: text.rfind("\n") + 1]
            path.write_text(text)
        for line in text.splitlines():
            op, part, block = line.split("\t")
            if op == _ADD:
                live[block] = part
            elif op == _DROP:
                live.pop(block, None)
    ranges = _block_ranges(table)
    lost = [(block, part) for block, part in live.items() if not _covered(part, ranges)]
    if lost:
        with logs[-1].open("a") as out:
            out.writelines(f"{_DROP}\t{part}\t{block}\n" for block, part in lost)
    return [part for _, part in lost]


def repair_dedup_logs(path: Path) -> dict[str, list[str]]:
    """Repair every table of the engine directory ``path``; return ``{table dir: parts}`` for what was repaired.

    Does nothing while another process holds the directory (chDB's ``status`` lock): its engine's state is live.
    """
    if not (path / "store").is_dir():
        return {}
    with open(path / "status", "a") as status:
        try:
            fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return {}
        try:
            tables = {d.parent.resolve() for d in path.glob("*/*/*/deduplication_logs")}
            repaired = {str(t): parts for t in sorted(tables) if (parts := repair_table(t))}
        finally:
            fcntl.flock(status, fcntl.LOCK_UN)
    for table, parts in repaired.items():
        log.warning("de-duplication log of %s named part(s) %s that a kill left uncommitted: dropped, so their "
                    "replay is written", table, ", ".join(parts))
    return repaired
