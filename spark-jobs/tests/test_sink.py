"""The micro-batch writer against the embedded ClickHouse (real local Spark)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from argos.contract import Trade, encode
from argos.settings import Settings
from argos_etl.checkpoint import Write
from argos_etl.sink import CODEGEN_MODE, ClickHouseBatchWriter, codegen_mode, driver_parts, split, trade_parts
from argos_etl.transforms import DEAD_LETTER_COLUMNS, OUTPUT_COLUMNS, TRADE_COLUMNS, transform

T0 = 1_780_000_000_000_000  # epoch microseconds
pytestmark = pytest.mark.spark


def test_code_generation_follows_the_previous_batch_size():
    assert codegen_mode(None, 5_000) == "FALLBACK"  # a query's first batch: maybe a backlog
    assert codegen_mode(400, 5_000) == "NO_CODEGEN"
    assert codegen_mode(5_000, 5_000) == codegen_mode(200_000, 5_000) == "FALLBACK"


def test_the_writer_runs_a_batch_after_a_small_one_interpreted(spark, chdb_client, tmp_path):
    settings = Settings(clickhouse={"database": chdb_client.db}, spark={"interpreted_below_rows": 3},
                        data_dir=tmp_path)
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


def test_the_driver_splits_only_a_big_batch():
    assert driver_parts(9_999, 2, 10_000) == driver_parts(19_999, 2, 10_000) == 1  # a live stream's batch: whole
    assert driver_parts(20_000, 2, 10_000) == driver_parts(400_000, 2, 10_000) == 2
    assert driver_parts(400_000, 1, 10_000) == 1 and driver_parts(400_000, 4, 10_000) == 4


def test_trade_parts_share_no_key_and_lose_no_row(spark):
    def payload(symbol: str, i: int) -> tuple[str, str]:
        trade = Trade(venue="binance", market="spot", symbol=symbol, trade_id=i, price="1", qty="1",
                      is_buyer_maker=False, trade_time=T0 + i, event_time=T0 + i, ingest_time=T0 + i)
        return encode(trade).decode(), "t"

    rows = [payload(s, i) for i in (*range(7), 3, 3) for s in ("BTCUSDT", "ETHUSDT")]  # trade 3 re-sent twice
    trades, _ = split(transform(spark.createDataFrame(rows, "raw string, source string"), Settings()).toArrow(), 0)
    parts = trade_parts(trades, 3)
    keys = [{(s, i) for s, i in zip(p["symbol"].to_pylist(), p["trade_id"].to_pylist(), strict=True)} for p in parts]
    assert sum(p.num_rows for p in parts) == trades.num_rows == 18
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    assert [p.num_rows for p in parts] == [10, 4, 4]  # ids 0 3 3 3 6 | 1 4 | 2 5, for each symbol
    assert trade_parts(trades, 1) == [trades]


def test_the_driver_writes_a_big_batch_as_concurrent_inserts_and_replays_it_exactly(spark, chdb_client, tmp_path):
    """Two inserts (a part per trade id's parity), each under its own token; the batch's replay adds nothing."""
    settings = Settings(clickhouse={"url": f"chdb://{chdb_client.path}", "database": chdb_client.db},
                        spark={"driver_write_part_rows": 50, "interpreted_below_rows": 0}, data_dir=tmp_path)
    writer = ClickHouseBatchWriter(settings, lambda: "q", chdb_client)
    rows = [(encode(Trade(venue="binance", market="spot", symbol="BTCUSDT", trade_id=i, price="100.5", qty="0.1",
                          is_buyer_maker=i % 3 == 0, trade_time=T0 + i, event_time=T0 + i, ingest_time=T0 + i)
                    ).decode(), "t") for i in range(1, 201)] + [("not json", "t")]
    batch = transform(spark.createDataFrame(rows, "raw string, source string"), settings)
    sql = (f"SELECT write_token, count(), countIf(trade_id % 2 = 1) FROM {chdb_client.db}.trades GROUP BY 1 ORDER BY 1"
           f" UNION ALL SELECT 'dead', count(), 0 FROM {chdb_client.db}.dead_letters"
           f" UNION ALL SELECT 'candles', toUInt64(sum(trades)), 0 FROM {chdb_client.db}.candles_1m")
    for _ in range(2):  # the write, then Spark's replay of the same batch
        writer(batch, 7)
        assert sorted(chdb_client.query(sql).result_rows) == [
            ("candles", 200, 0), ("dead", 1, 0), ("q:7:driver:0", 100, 0), ("q:7:driver:1", 100, 100)]


def test_a_replay_stamps_its_dead_letters_with_the_first_attempts_time(spark, chdb_client, tmp_path):
    """A dead letter's process_time names its monthly partition, and ClickHouse tells an insert's blocks apart by
    partition as well as by token: a replay in the next month, stamped anew, stored them again."""
    settings = Settings(clickhouse={"url": f"chdb://{chdb_client.path}", "database": chdb_client.db},
                        spark={"interpreted_below_rows": 0}, data_dir=tmp_path)
    writer = ClickHouseBatchWriter(settings, lambda: "q", chdb_client)
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = month - timedelta(milliseconds=1)  # the first attempt, a moment before this month (inside the 90-day TTL)
    assert writer.splits.first(None, 3) is None
    writer.splits.record(3, Write("driver", 1, first))  # ... crashed inside its insert
    batch = transform(spark.createDataFrame([("not json", "t"), ("{}", "t")], "raw string, source string"), settings)
    for _ in range(2):  # the replay (now, in another month), and Spark's next replay of it
        writer(batch, 3)
    rows = chdb_client.query(f"SELECT count(), min(process_time), max(process_time) FROM {chdb_client.db}.dead_letters")
    assert rows.result_rows == [(2, first.replace(tzinfo=None), first.replace(tzinfo=None))]


def test_a_replay_is_written_as_its_first_attempt_was_or_refused_with_the_fix(spark, chdb_client, tmp_path, caplog):
    """The mode is part of every token (``:driver``, ``:p<n>``): a batch first written by executors is replayed by
    executors, which the embedded engine cannot take, so the writer says how to finish it instead of guessing."""
    settings = Settings(clickhouse={"url": f"chdb://{chdb_client.path}", "database": chdb_client.db},
                        spark={"interpreted_below_rows": 0, "driver_write_threads": 3}, data_dir=tmp_path)
    writer = ClickHouseBatchWriter(settings, lambda: "q", chdb_client)
    batch = transform(spark.createDataFrame([("not json", "t")], "raw string, source string"), settings)
    writer.splits.first(None, 4)
    writer.splits.record(4, Write("executors", 8, datetime.now(UTC)))
    with pytest.raises(ValueError, match=r"first written by executors.*clickhouse\.url"):
        writer(batch, 4)
    writer.splits.record(5, Write("driver", 2, datetime.now(UTC)))
    with caplog.at_level("INFO", logger="argos_etl.sink"):
        writer(batch, 5)
    assert "batch 5 is replayed in the 2 parts it was first written in (the settings now ask for 1)" in caplog.text
