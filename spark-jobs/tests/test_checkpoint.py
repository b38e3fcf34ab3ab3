"""The checkpoint's record of how each batch was split for writing, on a local folder and through Hadoop."""

from __future__ import annotations

import pytest

from argos_etl.checkpoint import SplitLog, _HadoopFiles, local_dir


def test_a_batch_keeps_its_first_split_and_only_the_running_batch_is_kept(tmp_path):
    log = SplitLog(str(tmp_path))
    assert log.parts(None, 0, 2) == 2  # a local folder: no Spark needed
    assert log.parts(None, 0, 1) == 2  # its replay in the same run
    assert SplitLog(f"file:{tmp_path}").parts(None, 0, 3) == 2  # ... and after a restart with other settings
    assert log.parts(None, 1, 1) == 1 and SplitLog(str(tmp_path)).parts(None, 1, 4) == 1
    assert sorted(p.name for p in (tmp_path / "argos" / "splits").iterdir()) == ["1-1"]


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
