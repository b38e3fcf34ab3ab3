"""The micro-batch writer against the embedded ClickHouse (real local Spark)."""

from __future__ import annotations

import pytest

from argos.contract import Trade, encode
from argos.settings import Settings
from argos_etl.sink import CODEGEN_MODE, ClickHouseBatchWriter, codegen_mode, split
from argos_etl.transforms import DEAD_LETTER_COLUMNS, OUTPUT_COLUMNS, TRADE_COLUMNS, transform

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


def test_split_passes_a_batch_without_dead_letters_on_uncopied(spark):
    """A Python worker holds its write partition whole: a copy of it cost ~0.6 KB a row (docs item 41)."""
    def payload(i: int) -> tuple[str, str]:
        trade = Trade(venue="binance", market="spot", symbol="BTCUSDT", trade_id=i, price="100.5", qty="0.1",
                      is_buyer_maker=False, trade_time=T0 + i, event_time=T0 + i, ingest_time=T0 + i)
        return encode(trade).decode(), "t"

    def table(rows: list[tuple[str, str]]):
        return transform(spark.createDataFrame(rows, "raw string, source string"), Settings()).select(
            *OUTPUT_COLUMNS).toArrow()

    mixed = table([payload(1), ("not json", "t"), payload(2)])
    trades, dead = split(mixed, 9)
    assert sorted(trades["trade_id"].to_pylist()) == [1, 2] and trades.column_names == list(TRADE_COLUMNS)
    assert dead["raw"].to_pylist() == ["not json"] and dead["batch_id"].to_pylist() == [9]

    valid = table([payload(3), payload(4)])
    trades, dead = split(valid, 10)
    assert trades.num_rows == 2 and dead.num_rows == 0
    assert dead.column_names == [*DEAD_LETTER_COLUMNS, "batch_id"]
    for column in ("price", "symbol", "trade_time"):
        assert trades[column].chunk(0).buffers()[1].address == valid[column].chunk(0).buffers()[1].address
