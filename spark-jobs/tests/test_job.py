"""The ETL's Spark settings that depend on where the checkpoint lives and on the topic's partitions, and its JVM."""

import os
import subprocess
import sys

from argos.settings import load_settings
from argos_etl.checkpoint import FS_CHECKPOINTS, local_checkpoint_conf
from argos_etl.job import FETCH_MAX_WAIT_MS, consumer_options, session_conf


def test_a_local_checkpoint_is_written_with_plain_renames_on_the_raw_local_fs():
    for path in ("/data/checkpoints", "file:/data/checkpoints", "file:///data/checkpoints", "relative/ck"):
        conf = local_checkpoint_conf(path)
        assert conf["spark.sql.streaming.checkpointFileManagerClass"] == FS_CHECKPOINTS, path
        assert conf["spark.hadoop.fs.file.impl"] == "org.apache.hadoop.fs.RawLocalFileSystem", path


def test_every_sql_setting_of_the_job_is_one_spark_has(spark) -> None:
    """Spark ignores a key it does not know: the job had set a stop-gracefully-on-shutdown key that only the old
    DStream API has (docs/benchmarks item 47)."""
    keys = [k for k in session_conf(load_settings(spark={"source": "kafka"})) if k.startswith("spark.sql.")]
    # an unregistered builder that Spark reads from the Hadoop configuration (CheckpointFileManager.create, 4.2.0)
    read_by_hadoop = {"spark.sql.streaming.checkpointFileManagerClass"}
    assert len(keys) >= 5 and read_by_hadoop <= set(keys)
    assert [k for k in keys if not spark.conf.isModifiable(k) and k not in read_by_hadoop] == []
    assert not spark.conf.isModifiable("spark.sql.streaming.stopGracefullyOnShutdown")


def test_a_remote_checkpoint_keeps_sparks_own_checkpoint_manager():
    for path in ("s3a://bucket/argos/checkpoints", "hdfs://namenode:8020/argos/checkpoints"):
        assert local_checkpoint_conf(path) == {}, path


def test_many_partitions_do_not_wait_out_held_prefetches_and_take_a_whole_fetch_per_poll() -> None:
    """Per partition and batch the offset lookups wait out the broker's held prefetch (docs item 36), and each poll
    costs two of them: many partitions poll up to 5,000 records, a whole 1 MiB fetch (docs item 44). No metrics
    reporter either way (docs item 35)."""
    for partitions in (3, 63):
        options = consumer_options(partitions)
        assert options["kafka.fetch.max.wait.ms"] == str(FETCH_MAX_WAIT_MS) == "10"
        assert "kafka.max.poll.records" not in options  # Kafka's 500: 3 partitions were slower at 10k/s with 5,000
    for partitions in (64, 256):
        options = consumer_options(partitions)
        assert options["kafka.fetch.max.wait.ms"] == "1" and options["kafka.max.poll.records"] == "5000"
    for partitions in (3, 256):
        assert consumer_options(partitions)["kafka.metric.reporters"] == ""
        # Argos' grouped reader polls all of a task's partitions at once and looks up no offsets per partition.
        assert consumer_options(partitions, "grouped") == consumer_options(3)


def test_a_batch_of_many_partitions_holds_more_rows_up_to_what_its_writer_holds() -> None:
    """Each partition's range costs a batch a fixed few ms: 4,000 rows per partition amortise it (docs item 37),
    up to 200,000 per write partition where executors write; a driver that writes collects the whole batch and
    stops at 400,000 (docs items 39 and 43)."""
    def cap(url: str = "http://clickhouse:8123", **spark: object) -> int:
        return load_settings(kafka={"partitions": spark.pop("partitions", 3)}, clickhouse={"url": url},
                             spark={"source": "kafka", **spark}).max_records_per_batch

    assert cap() == cap(partitions=50) == 200_000
    # up to 200,000 rows per write partition: a Python worker holds its partition whole (docs item 41)
    assert cap(partitions=64) == 256_000 and cap(partitions=256) == 400_000
    assert cap(partitions=256, shuffle_partitions=8) == 1_024_000
    assert cap(partitions=256, source="spool") == 200_000  # the spool has no partitions
    assert cap(partitions=256, max_records_per_batch=5_000) == 5_000  # a set cap is kept
    assert cap("chdb:///tmp/argos") == cap("chdb:///tmp/argos", partitions=50) == 200_000
    assert cap("chdb:///tmp/argos", partitions=64) == cap(partitions=64, write_mode="driver") == 256_000
    # the driver holds the whole batch, whatever the write partitions
    assert cap("chdb:///tmp/argos", partitions=256) == cap(partitions=256, write_mode="driver", shuffle_partitions=8)
    assert cap("chdb:///tmp/argos", partitions=256) == 400_000
    assert cap("chdb:///tmp/argos", partitions=256, max_records_per_batch=1_024_000) == 1_024_000


def test_a_batch_over_many_partitions_runs_interpreted_up_to_more_rows() -> None:
    """Each Kafka partition's reader generates its own projections: 100 rows per partition (docs item 47)."""
    def below(**spark: object) -> int:
        return load_settings(kafka={"partitions": spark.pop("partitions", 3)},
                             spark={"source": "kafka", **spark}).interpreted_below

    assert below() == below(partitions=10) == 1_000  # the set floor
    assert below(partitions=64) == 6_400 and below(partitions=256) == 25_600
    assert below(partitions=256, interpreted_below_rows=50_000) == 50_000  # more than the raise: kept
    assert below(partitions=256, interpreted_below_rows=0) == 0  # off stays off
    assert below(partitions=256, source="spool") == 1_000  # the spool has no partitions


OUT_OF_HEAP = """
from argos.settings import load_settings
from argos_etl.job import spark_session
settings = load_settings(spark={"source": "spool", "master": "local[2]",
                                "conf": {"spark.ui.enabled": "false", "spark.driver.memory": "512m"}})
spark_session(settings).range(0, 40_000_000, numPartitions=2).selectExpr("id", "repeat('x', 20) AS s").toArrow()
"""


def test_the_local_driver_jvm_exits_when_out_of_heap() -> None:
    """Out of heap in its task-result thread, Spark's driver left the query waiting forever (docs item 39): the
    JVM ends instead (the job fails, and whoever restarts it resumes from the checkpoint)."""
    run = subprocess.run([sys.executable, "-c", OUT_OF_HEAP], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert run.returncode != 0
    assert "Terminating due to java.lang.OutOfMemoryError" in run.stdout + run.stderr, run.stderr[-2000:]
