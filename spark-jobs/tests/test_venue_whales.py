"""Whale thresholds in USD per symbol, per venue and per venue:symbol (the most specific wins)."""

import pytest

from argos.contract import Trade, encode, now_us
from argos_etl.sink import split
from argos_etl.transforms import enrich, parse

pytestmark = pytest.mark.spark
NOW = now_us()


def trade(**kw) -> str:
    base = dict(venue="binance", market="spot", symbol="BTCUSDT", trade_id=1, price="97000.5", qty="0.2",
                is_buyer_maker=False, trade_time=NOW, event_time=NOW + 10, ingest_time=NOW + 500)
    return encode(Trade(**{**base, **kw})).decode()


def run(spark, payloads: list[str], whale: float, per_symbol: dict[str, float]):
    df = spark.createDataFrame([(p, "test") for p in payloads], "raw string, source string")
    return enrich(parse(df), whale, per_symbol).toArrow()


def test_per_venue_whale_thresholds_take_the_most_specific_key(spark):
    payloads = [
        trade(price="100", qty="200"),                                              # binance BTCUSDT
        trade(venue="bybit", price="100", qty="200"),                               # bybit BTCUSDT
        trade(venue="bybit", symbol="ETHUSDT", price="100", qty="200"),             # bybit ETHUSDT
        trade(venue="okx", market="swap", symbol="BTC-USDT-SWAP", price="100", qty="2", contract_size="0.01",
              base="BTC", quote_asset="USDT", kind="perpetual"),
        trade(venue="coinbase", symbol="BTC-USD", price="100", qty="200"),
    ]
    thresholds = {"BTCUSDT": 50_000, "bybit": 20_000, "bybit:BTCUSDT": 80_000, "okx": 1_000}
    rows = split(run(spark, payloads, whale=10_000, per_symbol=thresholds), 0)[0].to_pylist()
    got = {(r["venue"], r["symbol"]): r["whale_threshold_usd"] for r in rows}
    assert got == {("binance", "BTCUSDT"): 50_000, ("bybit", "BTCUSDT"): 80_000, ("bybit", "ETHUSDT"): 20_000,
                   ("okx", "BTC-USDT-SWAP"): 1_000, ("coinbase", "BTC-USD"): 10_000}
