"""Shared test fixtures: real engines only (Spark local, a Kafka broker, the embedded ClickHouse)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the transform and Kafka reader tests."""
    from pyspark.sql import SparkSession

    from argos_etl.jars import kafka_reader_jar, spark_kafka_jars

    session = (
        SparkSession.builder.master("local[2]").appName("argos-tests")
        .config("spark.jars", ",".join(map(str, [*spark_kafka_jars(), kafka_reader_jar()])))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka broker: KAFKA_BOOTSTRAP if set, else a KRaft broker started from Maven Central jars."""
    from argos_testkit.kafka_broker import kafka_bootstrap as bootstrap

    with bootstrap() as address:
        yield address


@pytest.fixture(scope="session")
def chdb_session(tmp_path_factory: pytest.TempPathFactory):
    """The test process's one embedded ClickHouse (chDB opens a single directory per process).

    Tests keep apart by database; an ETL under test runs in a subprocess with a directory of its own.
    """
    from argos.clickhouse import connect
    from argos.settings import ClickHouseSettings

    client = connect(f"chdb://{tmp_path_factory.mktemp('chdb')}", ClickHouseSettings())
    yield client
    client.close()


@pytest.fixture
def chdb_client(chdb_session):
    """A freshly migrated database on the session's engine; its name is ``chdb_client.db``."""
    from argos_schema.migrate import migrate

    db = f"t_{uuid.uuid4().hex[:10]}"
    migrate(chdb_session, db=db)
    chdb_session.db = db
    yield chdb_session
    chdb_session.command(f"DROP DATABASE IF EXISTS {db}")


@pytest.fixture
def etl(tmp_path: Path):
    """Factory of real ETL subprocesses (``argos etl``); all are killed at the end of the test."""
    from argos_testkit.etl_process import EtlProcess

    runners: list[EtlProcess] = []

    def make(data_dir: Path | None = None, **env: str) -> EtlProcess:
        runner = EtlProcess(data_dir or tmp_path / "data", **env)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.stop()


@pytest.fixture
def topic() -> str:
    """A fresh Kafka topic name per test."""
    return f"trades-{uuid.uuid4().hex[:8]}"
