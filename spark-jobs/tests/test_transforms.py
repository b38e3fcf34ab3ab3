"""The pure transforms on small in-memory DataFrames (real local Spark)."""

from decimal import Decimal

import orjson
import pytest

from argos.contract import Reject, Trade, encode, now_us
from argos.settings import Settings
from argos_etl.sink import split
from argos_etl.transforms import DEAD_LETTER_COLUMNS, OUTPUT_COLUMNS, TRADE_COLUMNS, enrich, parse, transform

pytestmark = pytest.mark.spark
NOW = now_us()


def trade(**kw) -> str:
    base = dict(venue="binance", market="spot", symbol="BTCUSDT", trade_id=1, price="97000.5", qty="0.2",
                is_buyer_maker=False, trade_time=NOW, event_time=NOW + 10, ingest_time=NOW + 500)
    return encode(Trade(**{**base, **kw})).decode()


def edited(**fields) -> str:
    """A valid payload with fields changed (None: removed), for shapes the Trade class itself refuses."""
    record = orjson.loads(trade())
    record.update(fields)
    return orjson.dumps({k: v for k, v in record.items() if v is not None}).decode()


def run(spark, payloads: list[str], whale=10_000.0, per_symbol=None):
    df = spark.createDataFrame([(p, "test") for p in payloads], "raw string, source string")
    return enrich(parse(df), whale, per_symbol or {}).toArrow()


BAD = {
    "not json": "not a JSON object",
    "": "empty payload",
    "[1, 2]": "not a JSON object",
    trade() + " and more": "not a JSON object",  # one object, then garbage
    trade().replace('"', "'"): "not a JSON object",  # single quotes are not JSON
    edited(inverse="yes"): "mistyped optional field",  # not silently read as false
    '{"v": 1}': "missing or mistyped field(s): venue, market, symbol, trade_id, price, qty",
    trade().replace('"v":2', '"v":9'): "unsupported wire version",
    trade(price="-3"): "price not positive: -3",
    trade(price="abc"): "price not a decimal below 1e20: abc",
    trade(price="1e30"): "price not a decimal below 1e20: 1e30",
    trade(price="1.0000000000000000001"): "price has more than 18 decimals",
    trade(qty="123456789012345678901"): "qty not a decimal below 1e20",
    trade(event_time=2**62): "event_time out of range",
    trade(ingest_time=-5): "ingest_time out of range",
    trade(price="99999999999999999999", qty="99999999999"): "notional out of range",
    edited(price="9e19", qty="9e19"): "notional out of range",  # short texts, huge values: estimated all the same
    edited(qty="0.0000000000000000001"): "qty has more than 18 decimals",
    edited(symbol="ZZZZ", base=None, quote_asset=None): "cannot tell base and quote asset of symbol: ZZZZ",
    edited(kind="option"): "unknown kind: option",
    trade(inverse=True, contract_size="0").replace('"contract_size":"0"', '"contract_size":"-1"'):
        "contract_size not a positive decimal",
    trade(inverse=True, contract_size="100").replace('"contract_size":"100"', '"contract_size":null'):
        "inverse contract without contract_size",
    trade(first_trade_id=5, last_trade_id=9, trade_count=2): "trade_count disagrees",
    trade(first_trade_id=0, last_trade_id=2**40 - 1, trade_count=2**40): "trade_count out of range",
    trade(first_trade_id=0, last_trade_id=2**63 - 1, trade_count=5): "trade_count disagrees",
    trade(first_trade_id=5, last_trade_id=9, trade_count=5).replace('"last_trade_id":9', '"last_trade_id":null'):
        "first_trade_id and last_trade_id come together",
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


def test_enrichment_exact_values_side_instrument_and_times(spark):
    v1 = edited(v=1, symbol="XRPETH", trade_id=3, base=None, quote_asset=None, kind=None, trade_count=None)
    table = run(spark, [trade(price="97000.12345678", qty="46116860414.5", is_buyer_maker=True),
                        trade(trade_id=2, market="coinm", symbol="BTCUSD_PERP", price="97000.1", qty="12",
                              contract_size="100", inverse=True, first_trade_id=7, last_trade_id=9, trade_count=3),
                        v1, edited(v=1, symbol="ETH-USD", trade_id=4, base=None, quote_asset=None, kind=None),
                        edited(v=1, market="usdm", symbol="BTCUSDT_210924", trade_id=5, base=None,
                               quote_asset=None, kind=None)])
    trades, dead = split(table, 0)
    assert dead.num_rows == 0, dead.to_pylist()
    rows = {r["trade_id"]: r for r in trades.to_pylist()}
    assert rows[1]["price"] == Decimal("97000.12345678") and rows[1]["qty"] == Decimal("46116860414.5")
    assert rows[1]["side"] == "sell" and rows[2]["side"] == "buy"
    assert (rows[1]["base"], rows[1]["quote_asset"], rows[1]["kind"], rows[1]["usd_rate"]) == (
        "BTC", "USDT", "spot", Decimal(1))
    coinm = rows[2]
    assert (coinm["base"], coinm["quote_asset"], coinm["kind"], coinm["contract_size"], coinm["inverse"]) == (
        "BTC", "USD", "perpetual", Decimal(100), True)
    assert (coinm["first_trade_id"], coinm["last_trade_id"], coinm["trade_count"]) == (7, 9, 3)
    assert (rows[3]["base"], rows[3]["quote_asset"], rows[3]["usd_rate"], rows[3]["trade_count"]) == (
        "XRP", "ETH", None, 1)  # v1 payload: assets from the symbol; ETH has no stablecoin rate
    assert (rows[4]["base"], rows[4]["quote_asset"], rows[4]["usd_rate"]) == ("ETH", "USD", Decimal(1))
    assert (rows[5]["base"], rows[5]["quote_asset"], rows[5]["kind"]) == ("BTC", "USDT", "future")
    assert rows[1]["trade_time"].timestamp() * 1e6 == pytest.approx(NOW, abs=1)
    assert (rows[1]["ingest_time"] - rows[1]["trade_time"]).total_seconds() == pytest.approx(500e-6)


def test_per_symbol_whale_threshold_in_usd(spark):
    payloads = [trade(price="100", qty="200"), trade(symbol="ETHUSDT", price="100", qty="200")]
    rows = split(run(spark, payloads, whale=10_000, per_symbol={"BTCUSDT": 50_000}), 0)[0].to_pylist()
    assert {r["symbol"]: r["whale_threshold_usd"] for r in rows} == {"BTCUSDT": 50_000, "ETHUSDT": 10_000}
    capped = split(run(spark, payloads[:1], whale=1e300), 0)[0].to_pylist()
    assert capped[0]["whale_threshold_usd"] == Decimal("1e20")  # "never", without an overflowing cast

# deduplicate() is stateful and streaming-only: tests/integration covers it with re-sent trades.


def test_ahead_is_measured_from_arrival_so_a_replay_gets_the_same_verdict(spark):
    """A trade stamped two days after it reached Kafka is refused, even when both times are long past."""
    from datetime import UTC, datetime

    arrived = datetime(2025, 1, 1, tzinfo=UTC)
    at = int(arrived.timestamp() * 1_000_000)
    day = 86_400_000_000
    ok = trade(trade_id=1, trade_time=at + day // 2, event_time=at + day // 2, ingest_time=at)
    ahead = trade(trade_id=2, trade_time=at + 2 * day, event_time=at + 2 * day, ingest_time=at)
    df = spark.createDataFrame([(ok, "t", arrived), (ahead, "t", arrived)],
                               "raw string, source string, arrived timestamp")
    trades, dead = split(enrich(parse(df), 10_000.0, {}).toArrow(), batch_id=1)
    assert trades["trade_id"].to_pylist() == [1]
    assert dead["reason"].to_pylist() == ["trade_time out of range (expect epoch microseconds)"]


def test_transform_hands_the_writer_its_columns_and_only_dead_letters_keep_their_payload(spark):
    df = spark.createDataFrame([(trade(), "t"), ("not json", "t")], "raw string, source string")
    out = transform(df, Settings()).toArrow()
    assert tuple(out.column_names) == OUTPUT_COLUMNS
    by_reason = {row["reason"]: row for row in out.to_pylist()}
    assert by_reason[None]["raw"] is None and by_reason[None]["price"] == Decimal("97000.5")
    assert by_reason["not a JSON object"]["raw"] == "not json"
    trades, dead = split(out, batch_id=3)
    assert trades.num_rows == 1 and dead.to_pylist()[0]["raw"] == "not json"


def test_interpreted_and_generated_expressions_give_the_same_rows(spark):
    """Small micro-batches run interpreted (argos_etl.sink.codegen_mode): every verdict and value must match."""
    from argos_etl.sink import CODEGEN_MODE
    from argos_ingest.synthetic import SyntheticMarket

    market = SyntheticMarket(["BTCUSDT", "ETHBTC", "BTCUSD_PERP", "SOLUSDT"], seed=7)
    payloads = [encode(t).decode() for t in market.trades(300, NOW - 1_000_000, NOW)] + list(BAD)
    out = {}
    try:
        for mode in ("FALLBACK", "NO_CODEGEN"):
            spark.conf.set(CODEGEN_MODE, mode)
            df = spark.createDataFrame([(p, "t") for p in payloads], "raw string, source string")
            out[mode] = transform(df, Settings()).toArrow()
    finally:
        spark.conf.unset(CODEGEN_MODE)
    assert out["FALLBACK"].num_rows == len(payloads)
    assert out["NO_CODEGEN"].equals(out["FALLBACK"])
