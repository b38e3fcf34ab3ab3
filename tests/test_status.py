"""``argos status`` reads one row per venue and symbol: the same native symbol on two venues is two books."""

from __future__ import annotations

from argos.status import client_rows, read_status


def test_status_keeps_venues_apart(chdb_client) -> None:
    db = chdb_client.db
    chdb_client.command(
        f"INSERT INTO {db}.trades (venue, market, symbol, trade_id, price, qty, is_buyer_maker, trade_time, "
        "event_time, ingest_time, process_time) SELECT venue, 'spot', 'BTCUSDT', number, 100 + number, 1, false, "
        "now64(6), now64(6), now64(6), now64(6) FROM numbers(3) ARRAY JOIN ['binance', 'bybit'] AS venue")
    report = read_status(client_rows(chdb_client), db)
    assert [(r["venue"], r["symbol"], r["trades"]) for r in report["symbols"]] == [
        ("binance", "BTCUSDT", 3), ("bybit", "BTCUSDT", 3)]
    assert report["totals"]["trades"] == report["totals"]["distinct_ids"] == 6
