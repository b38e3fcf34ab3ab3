"""The pure transforms on small in-memory DataFrames (real local Spark)."""

from decimal import Decimal

import pytest

from argos.contract import Reject, Trade, encode, now_us
from argos_etl.sink import split
from argos_etl.transforms import DEAD_LETTER_COLUMNS, TRADE_COLUMNS, enrich, parse

pytestmark = pytest.mark.spark
NOW = now_us()


def trade(**kw) -> str:
    base = dict(venue="binance", market="spot", symbol="BTCUSDT", trade_id=1, price="97000.5", qty="0.2",
                is_buyer_maker=False, trade_time=NOW, event_time=NOW + 10, ingest_time=NOW + 500)
    return encode(Trade(**{**base, **kw})).decode()


def run(spark, payloads: list[str], whale=10_000.0, per_symbol=None):
    df = spark.createDataFrame([(p, "test") for p in payloads], "raw string, source string")
    return enrich(parse(df), whale, per_symbol or {}).toArrow()


BAD = {
    "not json": "not a JSON object",
    "": "empty payload",
    "[1, 2]": "not a JSON object",
    '{"v": 1}': "missing or mistyped field(s): venue, market, symbol, trade_id, price, qty",
    trade().replace('"v":2', '"v":9'): "unsupported wire version",
    trade(price="-3"): "price not positive: -3",
    trade(price="abc"): "price not a decimal below 1e10: abc",
    trade(price="1e30"): "price not a decimal below 1e10: 1e30",
    trade(event_time=2**62): "event_time out of range",
    trade(ingest_time=-5): "ingest_time out of range",
    trade(price="9999999999", qty="99999999999"): "qty not a decimal below 1e10",
    trade(qty="0"): "qty not positive: 0",
    trade(symbol="btc/usdt"): "bad symbol format: btc/usdt",
    trade(market="options"): "unknown market: options",
    trade(trade_id=-5): "negative trade_id",
    trade(trade_time=NOW // 1000): "trade_time out of range",
    trade().replace('"trade_id":1', '"trade_id":"x"'): "missing or mistyped field(s): trade_id",
    encode(Reject("binance", "field 'p' is not a decimal", '{"p":"?"}')).decode(): "ingest: field 'p'",
}


def test_every_malformed_row_becomes_a_dead_letter_with_its_reason(spark):
    good = [trade(trade_id=i) for i in range(3)]
    table = run(spark, good + list(BAD))
    trades, dead = split(table, batch_id=4)
    assert trades.num_rows == 3 and dead.num_rows == len(BAD)
    reasons = dict(zip(dead["raw"].to_pylist(), dead["reason"].to_pylist(), strict=True))
    for payload, expected in BAD.items():
        raw = '{"p":"?"}' if "reject" in payload else payload  # a reject keeps the venue's payload
        assert reasons[raw].startswith(expected), (payload, reasons[raw])
    assert set(dead["batch_id"].to_pylist()) == {4}
    assert trades.column_names == list(TRADE_COLUMNS)
    assert dead.column_names == [*DEAD_LETTER_COLUMNS, "batch_id"]


def test_enrichment_quote_side_whale_and_times(spark):
    table = run(spark, [trade(price="97000.12345678", qty="0.00012345", is_buyer_maker=True),
                        trade(trade_id=2, price="100", qty="100")])
    trades, _ = split(table, 0)
    rows = trades.to_pylist()
    assert rows[0]["quote"] == Decimal("97000.12345678") * Decimal("0.00012345")  # exact
    assert rows[0]["side"] == "sell" and rows[1]["side"] == "buy"
    assert [r["is_whale"] for r in rows] == [False, True]  # 10,000 quote meets the threshold
    assert rows[0]["trade_time"].timestamp() * 1e6 == pytest.approx(NOW, abs=1)
    assert (rows[0]["ingest_time"] - rows[0]["trade_time"]).total_seconds() == pytest.approx(500e-6)


def test_per_symbol_whale_threshold(spark):
    payloads = [trade(price="100", qty="200"), trade(symbol="ETHUSDT", price="100", qty="200")]
    rows = split(run(spark, payloads, whale=10_000, per_symbol={"BTCUSDT": 50_000}), 0)[0].to_pylist()
    assert {r["symbol"]: r["is_whale"] for r in rows} == {"BTCUSDT": False, "ETHUSDT": True}

# deduplicate() is stateful and streaming-only: tests/integration covers it with re-sent trades.
