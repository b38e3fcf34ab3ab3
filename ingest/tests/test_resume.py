"""Where the data stops: positions read back from the spool's file and from ClickHouse (embedded engine)."""

from __future__ import annotations

from argos.settings import load_settings
from argos_ingest.resume import clickhouse_positions, file_positions, merge, write_positions


def test_positions_file_round_trip_and_merge(tmp_path):
    path = tmp_path / "ingest-positions.json"
    write_positions(path, {("binance", "spot", "BTCUSDT"): 7, ("binance", "usdm", "BTCUSDT"): 3})
    assert file_positions(path) == {("binance", "spot", "BTCUSDT"): 7, ("binance", "usdm", "BTCUSDT"): 3}
    assert file_positions(tmp_path / "absent.json") == {}
    assert merge({("b", "s", "X"): 5}, {("b", "s", "X"): 4, ("b", "s", "Y"): 1}) == {("b", "s", "X"): 5,
                                                                                 ("b", "s", "Y"): 1}


def test_newest_stored_id_per_symbol_from_clickhouse(chdb_client, tmp_path):
    db = chdb_client.db
    chdb_client.command(
        f"INSERT INTO {db}.trades (venue, market, symbol, trade_id, price, qty, trade_time, event_time, ingest_time, "
        "process_time) SELECT 'binance', 'spot', if(number % 2, 'BTCUSDT', 'ETHUSDT'), number, 1, 1, now64(6), "
        "now64(6), now64(6), now64(6) FROM numbers(10)")
    settings = load_settings(data_dir=tmp_path, clickhouse={"database": db})
    assert clickhouse_positions(settings, client=chdb_client) == {("binance", "spot", "BTCUSDT"): 9,
                                                                  ("binance", "spot", "ETHUSDT"): 8}
    assert clickhouse_positions(settings) == {}, "never opens the embedded engine the ETL owns"
