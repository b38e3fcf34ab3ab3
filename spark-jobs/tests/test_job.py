"""The ETL's Spark settings that depend on where the checkpoint lives and on the topic's partitions."""

from argos_etl.job import FETCH_MAX_WAIT_MS, FS_CHECKPOINTS, fetch_max_wait_ms, local_checkpoint_conf


def test_a_local_checkpoint_is_written_with_plain_renames_on_the_raw_local_fs():
    for path in ("/data/checkpoints", "file:/data/checkpoints", "file:///data/checkpoints", "relative/ck"):
        conf = local_checkpoint_conf(path)
        assert conf["spark.sql.streaming.checkpointFileManagerClass"] == FS_CHECKPOINTS, path
        assert conf["spark.hadoop.fs.file.impl"] == "org.apache.hadoop.fs.RawLocalFileSystem", path


def test_a_remote_checkpoint_keeps_sparks_own_checkpoint_manager():
    for path in ("s3a://bucket/argos/checkpoints", "hdfs://namenode:8020/argos/checkpoints"):
        assert local_checkpoint_conf(path) == {}, path


def test_many_partitions_do_not_wait_out_held_prefetches() -> None:
    """Per partition and batch the offset lookups wait out the broker's held prefetch (docs item 36)."""
    assert fetch_max_wait_ms(3) == FETCH_MAX_WAIT_MS == 10
    assert fetch_max_wait_ms(63) == 10
    assert fetch_max_wait_ms(64) == fetch_max_wait_ms(256) == 1
