"""The crash repair of de-duplication logs (argos.dedup_logs) on an engine directory's layout; the real engine's
case (a kill's state rebuilt, the ETL's replay written) is in tests/integration/test_crash_inside_insert.py."""

from __future__ import annotations

import fcntl
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


def test_a_directory_another_process_holds_is_left_alone(tmp_path):
    table = _table(tmp_path, [], "1\t202611_1_1_0\tb1\n")
    with open(tmp_path / "status", "w") as status:
        fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as chDB holds it
        assert repair_dedup_logs(tmp_path) == {}
    assert (table / "deduplication_logs" / "deduplication_log_1.txt").read_text() == "1\t202611_1_1_0\tb1\n"
    assert repair_dedup_logs(tmp_path) == {str(table.resolve()): ["202611_1_1_0"]}
