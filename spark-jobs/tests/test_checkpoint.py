"""The checkpoint's record of how each batch was first written, on a local folder and through Hadoop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from argos_etl.checkpoint import SplitLog, Write, _HadoopFiles, local_dir


def test_a_batch_keeps_its_first_write_and_only_the_running_batch_is_kept(tmp_path):
    t0 = datetime(2026, 1, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    log = SplitLog(str(tmp_path))
    assert log.first(None, 0) is None  # a local folder: no Spark needed
    first = log.record(0, Write("executors", 8, t0))
    assert log.first(None, 0) == first  # its replay in the same run
    assert SplitLog(f"file:{tmp_path}").first(None, 0) == first  # ... and after a restart, to the microsecond
    assert SplitLog(str(tmp_path)).first(None, 1) is None
    (tmp_path / "argos" / "splits" / "0-2").touch()  # an older version's record: not read, removed with the next
    log = SplitLog(str(tmp_path))
    assert log.first(None, 1) is None
    log.record(1, Write("driver", 2, t0))
    assert [p.name for p in (tmp_path / "argos" / "splits").iterdir()] == ["1-driver-2-1769903999999999"]
    assert Write.parse("1-driver-2-1769903999999999") == (1, Write("driver", 2, t0))
    assert Write.parse("1-2") is None and Write.parse("1-nobody-2-3") is None


def test_a_remote_checkpoint_keeps_its_splits_through_hadoop(spark, tmp_path):
    assert local_dir("s3a://bucket/argos/checkpoints") is None and local_dir("hdfs://nn:8020/ck") is None
    files = _HadoopFiles(spark, f"file://{tmp_path}/argos/splits")  # the Hadoop API that s3a:// and hdfs:// take
    files.create("7-2")
    files.create("8-1")
    files.delete("7-2")
    assert sorted(files.names()) == ["8-1"] == sorted(p.name for p in (tmp_path / "argos" / "splits").iterdir()
                                                      if not p.name.startswith("."))
    with pytest.raises(Exception, match="already exists"):
        files.create("8-1")  # a record is never overwritten
