"""The ETL's Spark settings that depend on where the checkpoint lives."""

from argos_etl.job import FS_CHECKPOINTS, local_checkpoint_conf


def test_a_local_checkpoint_is_written_with_plain_renames_on_the_raw_local_fs():
    for path in ("/data/checkpoints", "file:/data/checkpoints", "file:///data/checkpoints", "relative/ck"):
        conf = local_checkpoint_conf(path)
        assert conf["spark.sql.streaming.checkpointFileManagerClass"] == FS_CHECKPOINTS, path
        assert conf["spark.hadoop.fs.file.impl"] == "org.apache.hadoop.fs.RawLocalFileSystem", path


def test_a_remote_checkpoint_keeps_sparks_own_checkpoint_manager():
    for path in ("s3a://bucket/argos/checkpoints", "hdfs://namenode:8020/argos/checkpoints"):
        assert local_checkpoint_conf(path) == {}, path
