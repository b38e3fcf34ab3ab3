"""Resolve the JVM artifacts Argos runs on from Maven Central, once, into a local cache.

Uses the Apache Ivy jar that pyspark already ships, so nothing beyond Python and Java is needed.
The cache lives in ``$ARGOS_CACHE_DIR`` (default ``~/.cache/argos``); later runs are offline.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyspark

SPARK_VERSION = pyspark.__version__
SCALA_VERSION = "2.13"
KAFKA_VERSION = "4.3.1"

# The Spark Kafka source needs these beyond what pyspark bundles (the rest would shadow Spark's own jars).
_SPARK_KAFKA_JARS = ("spark-sql-kafka-0-10", "spark-token-provider-kafka-0-10", "kafka-clients", "commons-pool2")


def cache_dir() -> Path:
    return Path(os.environ.get("ARGOS_CACHE_DIR", Path.home() / ".cache" / "argos"))


def resolve(group: str, artifact: str, version: str) -> list[Path]:
    """Jars of a Maven module and its runtime dependencies, downloaded on first use."""
    target = cache_dir() / "jars" / f"{artifact}-{version}"
    done = target / ".complete"
    if not done.exists():
        ivy = next((Path(pyspark.__file__).parent / "jars").glob("ivy-*.jar"))
        cmd = [
            "java", "-jar", str(ivy), "-dependency", group, artifact, version, "-confs", "default",
            "-cache", str(cache_dir() / "ivy"), "-retrieve", f"{target}/[artifact]-[revision](-[classifier]).[ext]",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(target.glob("*.jar")):
            tail = "\n".join(result.stdout.splitlines()[-15:])
            raise RuntimeError(f"could not resolve {group}:{artifact}:{version} from Maven Central:\n{tail}")
        done.touch()
    return sorted(target.glob("*.jar"))


def spark_kafka_jars() -> list[Path]:
    """Local jars for Spark's Kafka source (spark-sql-kafka-0-10 matching the installed pyspark)."""
    jars = resolve("org.apache.spark", f"spark-sql-kafka-0-10_{SCALA_VERSION}", SPARK_VERSION)
    return [j for j in jars if j.name.startswith(_SPARK_KAFKA_JARS)]


def kafka_broker_jars() -> list[Path]:
    """Local jars of an Apache Kafka broker (KRaft)."""
    return resolve("org.apache.kafka", f"kafka_{SCALA_VERSION}", KAFKA_VERSION)


if __name__ == "__main__":  # `python -m argos_etl.jars`: resolve everything once (make setup, CI, images)
    for jar in [*kafka_broker_jars(), *spark_kafka_jars()]:
        print(jar)
