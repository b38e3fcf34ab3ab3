"""Whales in USD on the live path (materialized views): stablecoin quotes 1:1, other quotes by the venue's last
<ASSET>/stablecoin trade, and a quote with no rate counted as unpriced instead of being classed."""

from __future__ import annotations

from decimal import Decimal

import pytest

COLUMNS = "venue, market, symbol, base, quote_asset, kind, trade_id, price, qty, usd_rate, whale_threshold_usd, " \
          "is_buyer_maker, side, trade_time, event_time, ingest_time, process_time"


def insert(client, db: str, rows: list[tuple], token: str = "") -> None:
    values = ", ".join(
        f"('binance', 'spot', '{sym}', '{base}', '{quote}', 'spot', {i}, {p}, {q}, {rate}, {threshold}, false, 'buy', "
        + ", ".join([f"'2025-01-01 00:00:{i:02d}'"] * 4) + ")"
        for sym, base, quote, i, p, q, rate, threshold in rows
    )
    settings = {"insert_deduplication_token": token, "deduplicate_blocks_in_dependent_materialized_views": 1}
    client.command(f"INSERT INTO {db}.trades ({COLUMNS}) VALUES {values}", settings=settings if token else None)


def test_whales_priced_by_stablecoin_or_reference_and_unpriced_counted(chdb_client):
    client, db = chdb_client, chdb_client.db
    # XRPETH before any ETH price is known: not classed, counted as unpriced.
    insert(client, db, [("XRPETH", "XRP", "ETH", 1, "0.0007", "20000", "NULL", 10000)])
    # The venue's ETHUSDT price appears; the next XRPETH trade is priced by it (14 ETH x 3000 = 42,000 USD).
    insert(client, db, [("ETHUSDT", "ETH", "USDT", 2, "3000", "0.5", 1, 10000),
                        ("ETHUSDT", "ETH", "USDT", 3, "3001.5", "4", 1, 10000)])
    insert(client, db, [("XRPETH", "XRP", "ETH", 4, "0.0007", "20000", "NULL", 10000),
                        ("XRPETH", "XRP", "ETH", 5, "0.0007", "2000", "NULL", 10000),  # 4,202 USD: no whale
                        ("BTCTRY", "BTC", "TRY", 6, "3300000", "1", "NULL", 10000)])  # TRY: no rate known
    whales = client.query(f"SELECT symbol, trade_id, usd_rate, quote_usd, rate_source FROM {db}.whales "
                          f"ORDER BY trade_id").result_rows
    assert whales == [
        ("ETHUSDT", 3, Decimal(1), Decimal("12006"), "stablecoin"),
        ("XRPETH", 4, Decimal("3001.5"), Decimal("14") * Decimal("3001.5"), "ETHUSDT"),
    ]
    unpriced = client.query(f"SELECT symbol, sum(trades) FROM {db}.unpriced_1m GROUP BY symbol ORDER BY symbol")
    assert unpriced.result_rows == [("BTCTRY", 1), ("XRPETH", 1)]
    # The stablecoin whale flag on trades agrees with the USD threshold.
    flags = dict(client.query(f"SELECT trade_id, is_whale FROM {db}.trades WHERE symbol = 'ETHUSDT'").result_rows)
    assert flags == {2: False, 3: True}


def test_a_replay_after_a_crash_in_the_cross_quoted_chain_classes_each_trade_once(chdb_client):
    """Cross-quoted trades reach whales and unpriced_1m through a Null table (migration 0008). The whale part
    fails once (a constraint here; in life, a kill) after trades stored the block; the ETL's replay re-sends it
    under the same token, and each whale and unpriced trade is then counted exactly once."""
    client, db = chdb_client, chdb_client.db
    insert(client, db, [("ETHUSDT", "ETH", "USDT", 1, "3000", "0.5", 1, 10000)])
    block = [("ETHUSDT", "ETH", "USDT", 2, "3000", "5", 1, 10000),  # 15,000 USD: a stablecoin whale
             ("XRPETH", "XRP", "ETH", 3, "0.0007", "20000", "NULL", 10000),  # 14 ETH: a cross-quoted whale
             ("BTCTRY", "BTC", "TRY", 4, "3300000", "1", "NULL", 10000)]  # no TRY rate: unpriced
    client.command(f"ALTER TABLE {db}.whales ADD CONSTRAINT crash CHECK rate_source = 'stablecoin'")
    with pytest.raises(Exception, match="crash"):
        insert(client, db, block, token="q:1:driver")
    assert client.query(f"SELECT count() FROM {db}.trades").result_rows == [(4,)]  # trades stored the block
    client.command(f"ALTER TABLE {db}.whales DROP CONSTRAINT crash")
    for _ in range(2):  # the replay, and once more
        insert(client, db, block, token="q:1:driver")
    assert client.query(f"SELECT count() FROM {db}.trades").result_rows == [(4,)]
    whales = client.query(f"SELECT trade_id, rate_source, count() FROM {db}.whales GROUP BY ALL ORDER BY 1")
    assert whales.result_rows == [(2, "stablecoin", 1), (3, "ETHUSDT", 1)]
    unpriced = client.query(f"SELECT symbol, sum(trades) FROM {db}.unpriced_1m GROUP BY symbol")
    assert unpriced.result_rows == [("BTCTRY", 1)]
    assert client.query(f"SELECT count() FROM {db}.cross_quoted_trades").result_rows == [(0,)]  # Null: stores none
