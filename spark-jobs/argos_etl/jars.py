"""Resolve the JVM artifacts Argos runs on from Maven Central, once, into a local cache, and build Argos' Kafka
reader (``spark-jobs/kafka-reader``) there with the JDK's ``javac``.

Uses the Apache Ivy jar that pyspark already ships, so nothing beyond Python and Java is needed.
The cache lives in ``$ARGOS_CACHE_DIR`` (default ``~/.cache/argos``); later runs are offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pyspark

SPARK_VERSION = pyspark.__version__
SCALA_VERSION = "2.13"
KAFKA_VERSION = "4.3.1"

# The Spark Kafka source needs these beyond what pyspark bundles (the rest would shadow Spark's own jars).
_SPARK_KAFKA_JARS = ("spark-sql-kafka-0-10", "spark-token-provider-kafka-0-10", "kafka-clients", "commons-pool2")


class SparkSetupError(RuntimeError):
    """Spark cannot start on this machine; the message says what is missing and how to get it."""


def cache_dir() -> Path:
    return Path(os.environ.get("ARGOS_CACHE_DIR", Path.home() / ".cache" / "argos"))


def resolve(group: str, artifact: str, version: str) -> list[Path]:
    """Jars of a Maven module and its runtime dependencies, downloaded on first use."""
    target = cache_dir() / "jars" / f"{artifact}-{version}"
    done = target / ".complete"
    if not done.exists():
        ivy = next((Path(pyspark.__file__).parent / "jars").glob("ivy-*.jar"))
        print(f"resolving {group}:{artifact}:{version} from Maven Central (once; cached in {target})", file=sys.stderr)
        cmd = [
            "java", "-jar", str(ivy), "-dependency", group, artifact, version, "-confs", "default",
            "-cache", str(cache_dir() / "ivy"), "-retrieve", f"{target}/[artifact]-[revision](-[classifier]).[ext]",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(target.glob("*.jar")):
            tail = "\n".join(result.stdout.splitlines()[-15:])
            raise SparkSetupError(f"could not resolve {group}:{artifact}:{version} from Maven Central:\n{tail}")
        done.touch()
    return sorted(target.glob("*.jar"))


def spark_kafka_jars() -> list[Path]:
    """Local jars for Spark's Kafka source (spark-sql-kafka-0-10 matching the installed pyspark)."""
    jars = resolve("org.apache.spark", f"spark-sql-kafka-0-10_{SCALA_VERSION}", SPARK_VERSION)
    return [j for j in jars if j.name.startswith(_SPARK_KAFKA_JARS)]


KAFKA_READER = Path(__file__).resolve().parents[1] / "kafka-reader"


def kafka_reader_jar() -> Path:
    """Argos' grouped Kafka reader, built once per version of its sources and of Spark."""
    if not KAFKA_READER.is_dir():
        raise SparkSetupError(f"the Kafka reader's sources are not at {KAFKA_READER} (an installed wheel): put its jar "
                           "in spark.jars (the Spark image has it), or set spark.kafka_reader: spark")
    files = sorted(p for p in (KAFKA_READER / "src").rglob("*") if p.is_file())
    digest = hashlib.sha256(SPARK_VERSION.encode())
    for file in files:
        digest.update(file.relative_to(KAFKA_READER).as_posix().encode() + b"\0" + file.read_bytes())
    jar = cache_dir() / "jars" / f"argos-kafka-reader-{digest.hexdigest()[:16]}.jar"
    if not jar.exists():
        spark_jars = Path(pyspark.__file__).parent / "jars"
        build_kafka_reader(KAFKA_READER, jar, [spark_jars / "*", *spark_kafka_jars()])
    return jar


def build_kafka_reader(source: Path, jar: Path, classpath: list[Path]) -> None:
    """Compile ``source``'s ``src/main/java`` against ``classpath`` (Java 17 bytecode) and pack it with
    ``src/main/resources`` into ``jar``."""
    java_home = os.environ.get("JAVA_HOME")
    javac = shutil.which("javac", path=f"{java_home}/bin" if java_home else None) or shutil.which("javac")
    if not javac:
        raise SparkSetupError("building the Kafka reader needs a JDK's javac (Debian: apt-get install "
                           "openjdk-17-jdk-headless); or set spark.kafka_reader: spark (ARGOS_SPARK__KAFKA_READER)")
    main = source / "src" / "main"
    with tempfile.TemporaryDirectory() as tmp:
        classes = Path(tmp)
        cmd = [javac, "--release", "17", "-Xlint:all,-path", "-Werror", "-d", str(classes),
               "-cp", os.pathsep.join(map(str, classpath)), *map(str, sorted((main / "java").rglob("*.java")))]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SparkSetupError(f"javac failed on {source}:\n{result.stderr[-3000:]}")
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out:
            for root in (classes, main / "resources"):
                for file in sorted(p for p in root.rglob("*") if p.is_file()):
                    out.write(file, file.relative_to(root).as_posix())
        partial.replace(jar)


def kafka_broker_jars() -> list[Path]:
    """Local jars of an Apache Kafka broker (KRaft)."""
    return resolve("org.apache.kafka", f"kafka_{SCALA_VERSION}", KAFKA_VERSION)


if __name__ == "__main__":  # `python -m argos_etl.jars`: resolve everything once (make setup, CI, images)
    for jar in [*kafka_broker_jars(), *spark_kafka_jars(), kafka_reader_jar()]:
        print(jar)
