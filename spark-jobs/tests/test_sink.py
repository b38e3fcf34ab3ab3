"""The micro-batch writer against the embedded ClickHouse (real local Spark)."""

from __future__ import annotations

import pytest

from argos.contract import Trade, encode
from argos.settings import Settings
from argos_etl.sink import CODEGEN_MODE, ClickHouseBatchWriter, codegen_mode
from argos_etl.transforms import transform

T0 = 1_780_000_000_000_000  # epoch microseconds
pytestmark = pytest.mark.spark


def test_code_generation_follows_the_previous_batch_size():
    assert codegen_mode(None, 5_000) == "FALLBACK"  # a query's first batch: maybe a backlog
    assert codegen_mode(400, 5_000) == "NO_CODEGEN"
    assert codegen_mode(5_000, 5_000) == codegen_mode(200_000, 5_000) == "FALLBACK"


def test_the_writer_runs_a_batch_after_a_small_one_interpreted(spark, chdb_client):
    settings = Settings(clickhouse={"database": chdb_client.db}, spark={"interpreted_below_rows": 3})
    writer = ClickHouseBatchWriter(settings, lambda: "q", chdb_client)

    def batch(ids: list[int]):
        payloads = [(encode(Trade(venue="binance", market="spot", symbol="BTCUSDT", trade_id=i, price="100.5",
                                  qty="0.1", is_buyer_maker=False, trade_time=T0 + i, event_time=T0 + i,
                                  ingest_time=T0 + i)).decode(), "test") for i in ids]
        return transform(spark.createDataFrame(payloads, "raw string, source string"), settings)

    modes = []
    try:
        for batch_id, ids in enumerate([[1, 2], [3, 4, 5], [6], [7]]):
            writer(batch(ids), batch_id)
            modes.append(spark.conf.get(CODEGEN_MODE))  # the mode this batch ran with
    finally:
        spark.conf.unset(CODEGEN_MODE)
    assert modes == ["FALLBACK", "NO_CODEGEN", "FALLBACK", "NO_CODEGEN"]
    assert chdb_client.query(f"SELECT count() FROM {chdb_client.db}.trades").result_rows == [(7,)]
