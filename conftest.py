"""Shared test fixtures: real engines only (Spark local, a Kafka broker, the embedded ClickHouse)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the transform tests."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]").appName("argos-tests")
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
    from argos.testing.kafka_broker import kafka_bootstrap as bootstrap

    with bootstrap() as address:
        yield address


@pytest.fixture
def chdb_client(tmp_path: Path):
    """A migrated embedded ClickHouse in a fresh directory (closed after the test: one path per process)."""
    from argos.clickhouse import connect
    from argos.schema import migrate
    from argos.settings import ClickHouseSettings

    client = connect(f"chdb://{tmp_path / 'clickhouse'}", ClickHouseSettings())
    migrate(client)
    yield client
    client.close()
