"""Stored-key de-duplication against the embedded ClickHouse: exact, windowless, clock-free."""

from __future__ import annotations

import pyarrow as pa
import pytest

from argos.contract import Trade, encode
from argos_etl.dedup import drop_stored, stored_keys_sql, unique_trades
from argos_etl.sink import split, write_tables
from argos_etl.transforms import TRADE_COLUMNS, enrich, parse

T0 = 1_780_000_000_000_000  # epoch microseconds
pytestmark = pytest.mark.spark


def trades(spark, ids: list[int], symbol: str = "BTCUSDT", market: str = "spot", reason: str | None = None) -> pa.Table:
    """Rows of a processed batch, made by the ETL's own transforms (a re-sent trade keeps its trade time)."""
    payloads = [("not json" if reason else encode(Trade(
            venue="binance", market=market, symbol=symbol, trade_id=i, price="100.5", qty="0.1",
            is_buyer_maker=False, trade_time=T0 + i * 1_000_000, event_time=T0 + i * 1_000_000,
            ingest_time=T0 + i * 1_000_000)).decode(), "test") for i in ids]
    return enrich(parse(spark.createDataFrame(payloads, "raw string, source string")), 10_000, {}).toArrow()


def test_repeats_inside_a_batch_keep_the_first(spark):
    batch = pa.concat_tables([trades(spark, [1, 2, 3]), trades(spark, [2, 3, 4]), trades(spark, [1], market="usdm")])
    out = unique_trades(batch)
    assert sorted(zip(out["market"].to_pylist(), out["trade_id"].to_pylist(), strict=True)) == [
        ("spot", 1), ("spot", 2), ("spot", 3), ("spot", 4), ("usdm", 1)]


def test_the_lookup_is_bounded_by_each_symbols_range(spark):
    sql = stored_keys_sql("argos", pa.concat_tables([trades(spark, [5, 9]), trades(spark, [7], symbol="ETHUSDT")]))
    assert sql is not None and sql.count(" OR ") == 1
    assert "trade_id BETWEEN 5 AND 9" in sql and "trade_id BETWEEN 7 AND 7" in sql
    assert stored_keys_sql("argos", trades(spark, [])) is None


def test_keys_already_stored_are_never_written_again(spark, chdb_client):
    db = chdb_client.db
    first, _ = split(trades(spark, list(range(100))), 1)
    assert write_tables(chdb_client, db, first, first.slice(0, 0).select([]), "q1:1", 0) == (100, 0)
    # A fresh checkpoint (new token scope) re-reads ids 50..149 plus a repeat of 149: only 100..149 are new.
    again, dead = split(pa.concat_tables([trades(spark, list(range(50, 150))), trades(spark, [149]),
                                          trades(spark, [7], reason="not a JSON object")]), 2)
    assert write_tables(chdb_client, db, again, dead, "q2:1", 0) == (50, 1)
    rows = chdb_client.query(f"SELECT count(), uniqExact(symbol, trade_id), any(c.trades) FROM {db}.trades, "
                             f"(SELECT sum(trades) AS trades FROM {db}.candles_1m) AS c").result_rows[0]
    assert rows == (150, 150, 150)  # and the candle view counted each trade once
    fresh, dropped = drop_stored(chdb_client, db, split(trades(spark, [0, 149, 150]), 3)[0])
    assert fresh["trade_id"].to_pylist() == [150] and dropped == 2


def test_columns_survive_the_anti_join(spark, chdb_client):
    batch, _ = split(trades(spark, [1, 2]), 1)
    write_tables(chdb_client, chdb_client.db, batch.slice(0, 1), batch.slice(0, 0), "q:1", 0)
    fresh, _ = drop_stored(chdb_client, chdb_client.db, batch)
    assert fresh.column_names == list(TRADE_COLUMNS) and fresh.schema == batch.schema
