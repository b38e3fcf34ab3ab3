"""The Spark image's entrypoint, run on the same layout the image builds (no Docker engine needed).

spark-jobs/Dockerfile makes SPARK_HOME=/opt/spark with bin/ and jars/ linked into the venv's pyspark package
and an empty conf/; Spark on Kubernetes starts the driver container with args "driver <spark-submit args>".
This builds that layout in a temporary directory from this machine's pyspark (the same pinned version),
runs the entrypoint as the driver pod would (client deploy mode, bind address from the environment) with a
local master, and checks that a PySpark job ran in client mode on the given bind address.
TINI is a pass-through here (the image has Debian's tini); everything else is the real script and Spark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = ROOT / "spark-jobs" / "image" / "entrypoint.sh"
pytestmark = pytest.mark.timeout(300)

JOB = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("entrypoint-check").getOrCreate()
conf = spark.sparkContext.getConf()
print("ROWS", spark.range(1000).selectExpr("sum(id) AS s").first().s)
print("BIND", conf.get("spark.driver.bindAddress"))
print("MODE", conf.get("spark.submit.deployMode"))
spark.stop()
"""


def java_home() -> str:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    assert java, "java is required (Spark's driver JVM)"
    return str(Path(java).resolve().parents[1])


def test_driver_mode_runs_a_pyspark_job(tmp_path: Path) -> None:
    import pyspark

    package = Path(pyspark.__file__).parent
    home = tmp_path / "opt-spark"
    (home / "conf").mkdir(parents=True)
    (home / "work-dir").mkdir()
    for name in ("bin", "jars", "python"):
        (home / name).symlink_to(package / name)
    tini = tmp_path / "tini"
    tini.write_text('#!/bin/sh\n[ "$1" = -s ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n')
    tini.chmod(0o755)
    job = tmp_path / "job.py"
    job.write_text(JOB)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "JAVA_HOME": java_home(),
        "SPARK_HOME": str(home),
        "TINI": str(tini),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    done = subprocess.run(
        ["bash", str(ENTRYPOINT), "driver", "--master", "local[1]", "--conf", "spark.ui.enabled=false", str(job)],
        cwd=home / "work-dir",
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "ROWS 499500" in done.stdout, done.stdout
    assert "BIND 127.0.0.1" in done.stdout and "MODE client" in done.stdout, done.stdout


def test_other_commands_pass_through(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "SPARK_HOME": str(tmp_path), "JAVA_HOME": java_home()}
    done = subprocess.run(["bash", str(ENTRYPOINT), "echo", "hello"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "hello\n", done


def test_executor_mode_needs_its_environment(tmp_path: Path) -> None:
    """Executor args come from SPARK_* variables that Spark sets on the pod: a missing one is named."""
    env = {"PATH": os.environ["PATH"], "SPARK_HOME": str(tmp_path), "JAVA_HOME": java_home(), "TINI": "/bin/true"}
    done = subprocess.run(["bash", str(ENTRYPOINT), "executor"], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "SPARK_EXECUTOR_MEMORY" in done.stderr, done
