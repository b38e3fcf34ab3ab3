"""Stored-key de-duplication against the embedded ClickHouse: exact, windowless, clock-free."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from argos_etl.dedup import drop_stored, stored_keys_sql, unique_trades
from argos_etl.sink import split, write_tables
from argos_etl.transforms import TRADE_COLUMNS

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
US = pa.timestamp("us", "UTC")


def trades(ids: list[int], symbol: str = "BTCUSDT", market: str = "spot", reason: str | None = None) -> pa.Table:
    """Rows shaped like a processed batch (trades and dead letters together, ``reason`` null for trades)."""
    n = len(ids)
    time = [T0 + dt.timedelta(seconds=i) for i in ids]  # a re-sent trade carries its original trade time
    dec = pa.decimal128(38, 18)
    return pa.table({
        "venue": ["binance"] * n, "market": [market] * n, "symbol": [symbol] * n,
        "trade_id": pa.array(ids, pa.int64()), "price": pa.array([Decimal("100.5")] * n, dec),
        "qty": pa.array([Decimal("0.1")] * n, dec), "quote": pa.array([Decimal("10.05")] * n, dec),
        "is_buyer_maker": [False] * n, "side": ["buy"] * n, "is_whale": [False] * n,
        "trade_time": pa.array(time, US), "event_time": pa.array(time, US), "ingest_time": pa.array(time, US),
        "process_time": pa.array([T0] * n, US),
        "source": ["test"] * n, "reason": pa.array([reason] * n, pa.string()), "raw": ["{}"] * n,
    })


def test_repeats_inside_a_batch_keep_the_first():
    batch = pa.concat_tables([trades([1, 2, 3]), trades([2, 3, 4]), trades([1], market="usdm")])
    out = unique_trades(batch)
    assert sorted(zip(out["market"].to_pylist(), out["trade_id"].to_pylist(), strict=True)) == [
        ("spot", 1), ("spot", 2), ("spot", 3), ("spot", 4), ("usdm", 1)]


def test_the_lookup_is_bounded_by_each_symbols_range():
    sql = stored_keys_sql("argos", pa.concat_tables([trades([5, 9]), trades([7], symbol="ETHUSDT")]))
    assert sql is not None and sql.count(" OR ") == 1
    assert "trade_id BETWEEN 5 AND 9" in sql and "trade_id BETWEEN 7 AND 7" in sql
    assert stored_keys_sql("argos", trades([])) is None


def test_keys_already_stored_are_never_written_again(chdb_client):
    db = chdb_client.db
    first, _ = split(trades(list(range(100))), 1)
    assert write_tables(chdb_client, db, first, first.slice(0, 0).select([]), "q1:1", 0) == (100, 0)
    # A fresh checkpoint (new token scope) re-reads ids 50..149 plus a repeat of 149: only 100..149 are new.
    again, dead = split(pa.concat_tables([trades(list(range(50, 150))), trades([149]),
                                          trades([7], reason="not a JSON object")]), 2)
    assert write_tables(chdb_client, db, again, dead, "q2:1", 0) == (50, 1)
    rows = chdb_client.query(f"SELECT count(), uniqExact(symbol, trade_id), any(c.trades) FROM {db}.trades, "
                             f"(SELECT sum(trades) AS trades FROM {db}.candles_1m) AS c").result_rows[0]
    assert rows == (150, 150, 150)  # and the candle view counted each trade once
    fresh, dropped = drop_stored(chdb_client, db, split(trades([0, 149, 150]), 3)[0])
    assert fresh["trade_id"].to_pylist() == [150] and dropped == 2


def test_columns_survive_the_anti_join(chdb_client):
    batch, _ = split(trades([1, 2]), 1)
    write_tables(chdb_client, chdb_client.db, batch.slice(0, 1), batch.slice(0, 0), "q:1", 0)
    fresh, _ = drop_stored(chdb_client, chdb_client.db, batch)
    assert fresh.column_names == list(TRADE_COLUMNS) and fresh.schema == batch.schema
