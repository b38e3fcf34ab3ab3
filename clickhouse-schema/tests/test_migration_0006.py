"""Migration 0006 on a database built by 0001-0005: every row moves, aggregates are rebuilt, types are wide."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from argos_schema.migrate import load_migrations, migrate

ROWS = [  # (symbol, trade_id, price, qty, is_buyer_maker, second)
    ("BTCUSDT", 1, "96936.8", "0.00493", False, 1),
    ("BTCUSDT", 2, "96937.1", "0.5", True, 2),
    ("ETHBTC", 1, "0.0361", "20", False, 3),
    ("XRPETH", 5, "0.000712", "1000", False, 5),
    ("SHIBUSDT", 9, "0.00002345", "4611686041", True, 4),  # a meme-coin lot: a 108,144 USD whale
]


@pytest.fixture
def old_db(chdb_session, tmp_path):
    """A database as 0001-0005 left it, with rows written the v1 way (quote and is_whale from the ETL)."""
    folder = tmp_path / "v1"
    folder.mkdir()
    for m in load_migrations():
        if m.version <= 5:
            (folder / f"{m.name}.sql").write_text(m.sql)
    db = f"t_{uuid.uuid4().hex[:10]}"
    migrate(chdb_session, db=db, folder=folder)
    values = ", ".join(
        f"('binance', 'spot', '{s}', {i}, {p}, {q}, {p} * {q}, {str(m).lower()}, '{'sell' if m else 'buy'}', "
        f"false, '2025-01-01 00:00:0{sec}', '2025-01-01 00:00:0{sec}', '2025-01-01 00:00:0{sec}', "
        f"'2025-01-01 00:00:0{sec}')"
        for s, i, p, q, m, sec in ROWS
    )
    chdb_session.command(
        f"INSERT INTO {db}.trades (venue, market, symbol, trade_id, price, qty, quote, is_buyer_maker, side, "
        f"is_whale, trade_time, event_time, ingest_time, process_time) VALUES {values}"
    )
    yield chdb_session, db
    chdb_session.command(f"DROP DATABASE IF EXISTS {db}")


def test_0006_moves_every_row_and_rebuilds_aggregates(old_db):
    client, db = old_db
    q = client.query
    assert q(f"SELECT sum(trades) FROM {db}.candles_1m").result_rows[0][0] == 5
    applied = migrate(client, db=db)
    assert applied[0] == "0006_exact_instruments"
    rows = q(f"SELECT symbol, trade_id, price, qty, quote, base, quote_asset, kind, trade_count, usd_rate, side "
             f"FROM {db}.trades ORDER BY symbol, trade_id").result_rows
    assert len(rows) == len(ROWS) == q(f"SELECT count() FROM {db}.trades_v1").result_rows[0][0]
    by_key = {(r[0], r[1]): r for r in rows}
    for s, i, p, qty, _, _ in ROWS:
        row = by_key[(s, i)]
        assert (row[2], row[3]) == (Decimal(p), Decimal(qty))
        assert row[4] == Decimal(p) * Decimal(qty)  # exact notional, computed in Decimal256
        assert row[8] == 1 and row[7] == "spot"
    assert by_key[("ETHBTC", 1)][5:7] == ("ETH", "BTC") and by_key[("ETHBTC", 1)][9] is None
    assert by_key[("SHIBUSDT", 9)][5:7] == ("SHIB", "USDT") and by_key[("SHIBUSDT", 9)][9] == 1
    types = dict(q(f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = 'trades'").result_rows)
    assert types["price"] == types["qty"] == types["quote"] == "Decimal(76, 18)"
    candles = q(f"SELECT symbol, trades, volume, quote_volume, vwap FROM {db}.candles_1m_view ORDER BY symbol")
    assert [r[:2] for r in candles.result_rows] == [("BTCUSDT", 2), ("ETHBTC", 1), ("SHIBUSDT", 1), ("XRPETH", 1)]
    btc = candles.result_rows[0]
    assert btc[3] == Decimal("96936.8") * Decimal("0.00493") + Decimal("96937.1") * Decimal("0.5")
    assert q(f"SELECT sum(buy_trades + sell_trades) FROM {db}.flow_1m").result_rows[0][0] == 5
    # XRPETH has no rate (no ETH/USD trade seen): counted as unpriced, not classed.
    assert q(f"SELECT symbol, trades FROM {db}.unpriced_1m").result_rows == [("XRPETH", 1)]
    # ETHBTC is priced by BTCUSDT's last trade: 0.722 BTC x 96937.1 USD = a 69,988 USD whale.
    whales = q(f"SELECT symbol, usd_rate, quote_usd, rate_source FROM {db}.whales ORDER BY symbol").result_rows
    assert whales == [("BTCUSDT", Decimal(1), Decimal("96937.1") * Decimal("0.5"), "stablecoin"),
                      ("ETHBTC", Decimal("96937.1"), Decimal("0.722") * Decimal("96937.1"), "BTCUSDT"),
                      ("SHIBUSDT", Decimal(1), Decimal("0.00002345") * 4611686041, "stablecoin")]
    # New rows flow through the new views.
    assert migrate(client, db=db) == []
