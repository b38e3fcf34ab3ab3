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


def test_the_lookup_is_bounded_by_each_keys_range(spark, chdb_client):
    """The primary key is pruned by the batch's symbols and time span; each row by its own key's ranges."""
    db = chdb_client.db
    ids = list(range(20))
    stored, _ = split(pa.concat_tables([trades(spark, ids), trades(spark, ids, symbol="ETHUSDT")]), 1)
    write_tables(chdb_client, db, stored, stored.slice(0, 0).select([]), "q:1", 0)
    batch = pa.concat_tables([trades(spark, [5, 9]), trades(spark, [7], symbol="ETHUSDT")])
    sql = stored_keys_sql(db, batch, "q:2")
    assert sql is not None and "symbol IN ('BTCUSDT', 'ETHUSDT')" in sql and " OR " not in sql
    assert "write_token != 'q:2'" in sql
    got = chdb_client.query_arrow(sql)
    assert sorted(zip(got["symbol"].to_pylist(), got["trade_id"].to_pylist(), strict=True)) == [
        ("BTCUSDT", 5), ("BTCUSDT", 6), ("BTCUSDT", 7), ("BTCUSDT", 8), ("BTCUSDT", 9), ("ETHUSDT", 7)]
    assert stored_keys_sql(db, trades(spark, []), "q:2") is None


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
    fresh, dropped = drop_stored(chdb_client, db, split(trades(spark, [0, 149, 150]), 3)[0], "q2:2")
    assert fresh["trade_id"].to_pylist() == [150] and dropped == 2
    stored = chdb_client.query(f"SELECT write_token, count() FROM {db}.trades GROUP BY 1 ORDER BY 1").result_rows
    assert stored == [("q1:1", 100), ("q2:1", 50)]  # each row names the write that stored it


def test_a_replay_after_a_crash_inside_the_insert_fills_the_views(spark, chdb_client):
    """The trades part commits, then a view's insert fails (here: a constraint on the candles table; in life, a
    kill). Spark replays the batch: the trades that this write stored are re-sent under the same token, so
    ``trades`` skips them and the views add what they missed. (Before: they counted as stored, were dropped, and
    the candles never got them.)"""
    db = chdb_client.db
    batch, dead = split(trades(spark, list(range(200))), 1)
    chdb_client.command(f"ALTER TABLE {db}.candles_1m ADD CONSTRAINT crash CHECK 0")
    with pytest.raises(Exception, match="crash"):
        write_tables(chdb_client, db, batch, dead, "q:1:driver", 0)
    count = f"SELECT (SELECT count() FROM {db}.trades), (SELECT sum(trades) FROM {db}.candles_1m)"
    assert chdb_client.query(count).result_rows[0] == (200, 0)  # the crash: trades stored, the candles not
    chdb_client.command(f"ALTER TABLE {db}.candles_1m DROP CONSTRAINT crash")
    assert write_tables(chdb_client, db, batch, dead, "q:1:driver", 0) == (200, 0)  # the replay re-sends all
    assert chdb_client.query(count).result_rows[0] == (200, 200)
    assert write_tables(chdb_client, db, batch, dead, "q:1:driver", 0) == (200, 0)  # and again: still once
    assert write_tables(chdb_client, db, batch, dead, "q:1:p0", 0) == (0, 0)  # another write finds them stored
    assert chdb_client.query(count).result_rows[0] == (200, 200)


def test_a_batch_of_thousands_of_symbols_is_looked_up_in_one_query(spark, chdb_client):
    """4,000 (venue, market, symbol) keys make a ~345 KB query, past ClickHouse's default 256 KiB limit."""
    batch = trades(spark, list(range(4_000)))
    symbols = pa.array([f"S{i:04d}USDT" for i in range(4_000)], batch.schema.field("symbol").type)
    batch, _ = split(batch.set_column(batch.schema.get_field_index("symbol"), "symbol", symbols), 1)
    write_tables(chdb_client, chdb_client.db, batch.slice(0, 10), batch.slice(0, 0).select([]), "q:1", 0)
    assert len(stored_keys_sql(chdb_client.db, batch, "q:2")) > 262_144
    fresh, dropped = drop_stored(chdb_client, chdb_client.db, batch, "q:2")
    assert dropped == 10 and fresh.num_rows == 3_990


def test_columns_survive_the_anti_join(spark, chdb_client):
    batch, _ = split(trades(spark, [1, 2]), 1)
    write_tables(chdb_client, chdb_client.db, batch.slice(0, 1), batch.slice(0, 0), "q:1", 0)
    fresh, _ = drop_stored(chdb_client, chdb_client.db, batch, "q:2")
    assert fresh.column_names == list(TRADE_COLUMNS) and fresh.schema == batch.schema
