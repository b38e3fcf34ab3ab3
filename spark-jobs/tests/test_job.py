"""The ETL's Spark settings: where the checkpoint lives, how the generated code is compiled."""

import json
import subprocess
import sys

import pytest

from argos_etl.job import FS_CHECKPOINTS, JVM_OPTIONS, local_checkpoint_conf

_SESSION = """
import json, sys, tempfile
from argos.settings import Settings
from argos_etl.job import _compiles_huge_methods, spark_session
conf = json.loads(sys.argv[1])
spark = spark_session(Settings(data_dir=tempfile.mkdtemp(), spark={"master": "local[1]", "conf": conf}))
print(json.dumps([_compiles_huge_methods(spark), spark.conf.get("spark.sql.codegen.wholeStage")]))
"""


def test_a_local_checkpoint_is_written_with_plain_renames_on_the_raw_local_fs():
    for path in ("/data/checkpoints", "file:/data/checkpoints", "file:///data/checkpoints", "relative/ck"):
        conf = local_checkpoint_conf(path)
        assert conf["spark.sql.streaming.checkpointFileManagerClass"] == FS_CHECKPOINTS, path
        assert conf["spark.hadoop.fs.file.impl"] == "org.apache.hadoop.fs.RawLocalFileSystem", path


def test_a_remote_checkpoint_keeps_sparks_own_checkpoint_manager():
    for path in ("s3a://bucket/argos/checkpoints", "hdfs://namenode:8020/argos/checkpoints"):
        assert local_checkpoint_conf(path) == {}, path


@pytest.mark.parametrize(("conf", "expected"), [
    ({"spark.ui.enabled": "false"}, [True, "true"]),
    # someone else's driver options replace ours: HotSpot would not compile the big method, so no whole-stage code
    ({"spark.ui.enabled": "false", "spark.driver.extraJavaOptions": "-Dargos.test=1"}, [False, "false"]),
])
def test_whole_stage_code_only_where_hotspot_compiles_huge_methods(conf, expected):
    done = subprocess.run([sys.executable, "-c", _SESSION, json.dumps(conf)], capture_output=True, text=True,
                          timeout=300, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected
    assert (JVM_OPTIONS in done.stderr) is (not expected[0]), done.stderr[-2000:]  # the warning names the fix
