"""Ad-hoc SQL on what the ETL writes gives Python Decimal's answers, for extreme real instruments (issue 10).

Spark parses and enriches wire records, the sink's split writes them into a migrated ClickHouse (chDB), and
the natural queries a notebook or a custom panel would write are compared with exact Python arithmetic.
"""

from decimal import Decimal, getcontext

import pytest

from argos.clickhouse import insert_arrow
from argos.contract import Trade, encode, now_us
from argos_etl.sink import split
from argos_etl.transforms import enrich, parse

pytestmark = pytest.mark.spark
NOW = now_us()
getcontext().prec = 80
TRADES = [  # symbol, market, price, qty, extra contract fields
    ("BTCUSDT", "spot", "96936.8", "0.00493", {}),  # v1 schema: 137.6 instead of 477.9
    ("BTCUSDT", "spot", "126198.99", "28.51012", {}),
    ("1000SATSUSDT", "spot", "0.0000001", "999999999999", {}),  # price 1e-7 x qty ~1e12
    ("SHIBUSDT", "spot", "0.00001234", "46116860414", {}),  # the LOT_SIZE maxQty v1 sent to dead letters
    ("PEPEUSDT", "spot", "0.0000000001", "1000000000000", {}),  # price 1e-10 x qty 1e12
    ("BTCUSD_PERP", "coinm", "97000.1", "12", {"contract_size": "100", "inverse": True,
                                               "first_trade_id": 7, "last_trade_id": 9, "trade_count": 3}),
    ("ETHUSD_210924", "coinm", "3001.5", "250", {"contract_size": "10", "inverse": True}),
]


def payload(i: int, symbol: str, market: str, price: str, qty: str, extra: dict) -> str:
    return encode(Trade("binance", market, symbol, i, price, qty, i % 2 == 0, NOW - i, NOW, NOW, **extra)).decode()


def notional(price: str, qty: str, extra: dict) -> Decimal:
    size = Decimal(extra.get("contract_size", 1))
    return Decimal(qty) * size if extra.get("inverse") else Decimal(price) * Decimal(qty) * size


@pytest.fixture(scope="module")
def loaded(spark, chdb_session):
    import uuid

    from argos_schema.migrate import migrate

    db = f"t_{uuid.uuid4().hex[:10]}"
    migrate(chdb_session, db=db)
    rows = [(payload(i, *t), "test") for i, t in enumerate(TRADES, start=1)]
    table = enrich(parse(spark.createDataFrame(rows, "raw string, source string")), 10_000, {}).toArrow()
    trades, dead = split(table, 0)
    assert dead.num_rows == 0, dead.to_pylist()
    insert_arrow(chdb_session, f"{db}.trades", trades, f"{uuid.uuid4()}")
    yield chdb_session, db
    chdb_session.command(f"DROP DATABASE IF EXISTS {db}")


def one(client, sql: str):
    return client.query(sql).result_rows[0][0]


def test_price_times_qty_is_exact_for_every_row(loaded):
    client, db = loaded
    got = dict(client.query(f"SELECT trade_id, price * qty FROM {db}.trades").result_rows)
    for i, (_, _, price, qty, _) in enumerate(TRADES, start=1):
        assert got[i] == Decimal(price) * Decimal(qty), TRADES[i - 1]


def test_notional_vwap_avg_and_division_match_python_decimal(loaded):
    client, db = loaded
    for symbol in {t[0] for t in TRADES}:
        rows = [t for t in TRADES if t[0] == symbol]
        where = f"FROM {db}.trades WHERE symbol = '{symbol}'"
        assert one(client, f"SELECT sum(quote) {where}") == sum(notional(p, q, x) for _, _, p, q, x in rows)
        linear = [t for t in rows if not t[4].get("inverse")]
        if linear:
            want = sum(Decimal(p) * Decimal(q) for _, _, p, q, _ in linear) / sum(Decimal(q) for *_, q, _ in linear)
            got = one(client, f"SELECT sum(price * qty) / sum(qty) {where}")
            assert abs(got - want) < Decimal("1e-17"), (symbol, got, want)
        assert one(client, f"SELECT avg(price) {where}") == pytest.approx(
            float(sum(Decimal(p) for _, _, p, _, _ in rows) / len(rows)), rel=1e-12)
    # Division both ways, with the largest notional and the smallest price on the table.
    want = Decimal("0.0000000001") / Decimal("126198.99")
    assert abs(one(client, f"SELECT min(price) / max(price) FROM {db}.trades") - want) < Decimal("1e-18")


def test_inverse_contract_notional_base_and_trade_count(loaded):
    client, db = loaded
    quote, base_qty, count = client.query(
        f"SELECT quote, base_qty, trade_count FROM {db}.trades WHERE symbol = 'BTCUSD_PERP'").result_rows[0]
    assert quote == Decimal(1200)  # 12 contracts x 100 USD, not 97000.1 x 12
    assert abs(base_qty - Decimal(1200) / Decimal("97000.1")) < Decimal("1e-18") and count == 3
    assert one(client, f"SELECT sum(trades) FROM {db}.candles_1m WHERE symbol = 'BTCUSD_PERP'") == 3
    vwap = one(client, f"SELECT vwap FROM {db}.candles_1m_view WHERE symbol = 'BTCUSD_PERP'")
    assert abs(vwap - Decimal("97000.1")) < Decimal("1e-9")  # VWAP of an inverse contract is its price


def test_whales_in_usd(loaded):
    client, db = loaded
    whales = dict(client.query(f"SELECT symbol, quote_usd FROM {db}.whales").result_rows)
    # 28.5 BTC (3.6M USD), 100k USD of 1000SATS, 569k USD of SHIB, 100 USD of PEPE, 1200 and 2500 USD contracts.
    assert set(whales) == {"BTCUSDT", "1000SATSUSDT", "SHIBUSDT"}
    assert whales["SHIBUSDT"] == Decimal("0.00001234") * 46116860414
