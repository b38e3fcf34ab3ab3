"""The crash repair of de-duplication logs (argos.dedup_logs) on an engine directory's layout; the real engine's
case (a kill's state rebuilt, the ETL's replay written) is in tests/integration/test_crash_inside_insert.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from argos.dedup_logs import repair_dedup_logs


def _table(root: Path, parts: list[str], log: str) -> Path:
    table = root / "store" / "abc" / "abc-uuid"
    for part in parts:
        (table / part).mkdir(parents=True)
    (table / "deduplication_logs").mkdir(parents=True)
    (table / "deduplication_logs" / "deduplication_log_1.txt").write_text(log)
    return table


def test_only_records_of_parts_that_no_part_on_disk_covers_are_dropped(tmp_path):
    log = ("1\t202611_1_1_0\tb1\n1\t202611_2_2_0\tb2\n1\t202611_3_3_0\tb3\n"  # 1-3 merged into 1_3_1
           "1\t202611_4_4_0\tb4\n2\t202611_4_4_0\tb4\n"  # dropped by the engine already
           "1\t202611_5_5_0\tb5\n"  # committed
           "1\t202611_6_6_0\tb6\n"  # the kill: no such part
           "1\t202612_6_6_0\tb7\n"  # another partition's block 6: committed
           "1\t202611_7_7_0\tb")  # a record cut by the kill
    table = _table(tmp_path, ["202611_1_3_1", "202611_5_5_0", "202612_6_6_0", "tmp_insert_202611_6_6_0"], log)
    assert repair_dedup_logs(tmp_path) == {str(table.resolve()): ["202611_6_6_0"]}
    text = (table / "deduplication_logs" / "deduplication_log_1.txt").read_text()
    assert text.endswith("1\t202612_6_6_0\tb7\n2\t202611_6_6_0\tb6\n")  # the cut record gone, a DROP appended
    assert repair_dedup_logs(tmp_path) == {}  # repaired once


def test_a_directory_a_live_engine_holds_is_left_alone(tmp_path):
    """chDB holds its directory's ``status`` lock while open: its logs are live state, not a crash's leftovers."""
    engine = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert engine.stdout and engine.stdin and engine.stdout.readline().strip() == "open"
    table = next(tmp_path.glob("store/*/*/deduplication_logs")).parent
    log = next((table / "deduplication_logs").iterdir())
    log.write_text(log.read_text() + "1\t202611_9_9_0\tghost\n")  # a record of a part that is not on disk
    assert repair_dedup_logs(tmp_path) == {}
    engine.communicate("close\n", timeout=60)
    assert repair_dedup_logs(tmp_path) == {str(table.resolve()): ["202611_9_9_0"]}


_HOLD = """
import sys
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
client = connect("chdb://" + sys.argv[1], ClickHouseSettings())
client.command("CREATE TABLE t (m UInt32, v UInt8) ENGINE = MergeTree PARTITION BY m ORDER BY v "
               "SETTINGS non_replicated_deduplication_window = 10")
client.command("INSERT INTO t SETTINGS insert_deduplication_token = 'a' VALUES (202611, 1)")
print("open", flush=True)
sys.stdin.readline()
"""
