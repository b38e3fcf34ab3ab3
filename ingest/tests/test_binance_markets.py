"""Every Binance market's payload shapes, written from Binance's documentation, with extreme real values.

Spot ``@trade``, USD-M and coin-M ``@aggTrade``, REST ``historicalTrades`` / ``aggTrades`` (api, fapi, dapi)
and the data dumps with and without header, ms and µs: each parses into a contract v2 trade with its
instrument and trade count, or into a Reject that names what was wrong (nothing is dropped silently).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from argos.contract import Reject, Trade, decode_trade, encode
from argos_ingest.replay import replay_trades
from argos_ingest.venues.binance import BinanceMarket, parse_message, parse_rest_agg_trade, parse_rest_trade
from argos_ingest.venues.binance_dumps import SPOT_TRADES, USDM_AGG_TRADES, detect_dump_format, detect_dump_market
from argos_ingest.venues.binance_instruments import instrument

T_MS, T_US = 1764080000123, 1764080000123456

# Spot <symbol>@trade, with the largest LOT_SIZE maxQty Binance listed (SHIB pairs) and a 1e-8 price.
SPOT_TRADE_SHIB = (f'{{"e":"trade","E":{T_MS + 1},"s":"SHIBUSDT","t":2000000001,"p":"0.00000001",'
                   f'"q":"46116860414.00000000","T":{T_MS},"m":false,"M":true}}')
# USD-M <symbol>@aggTrade (Binance futures docs example shape; f..l = 100..105, six trades).
USDM_AGG = (f'{{"e":"aggTrade","E":{T_MS + 1},"s":"BTCUSDT","a":5933014,"p":"126198.99","q":"100",'
            f'"f":100,"l":105,"T":{T_MS},"m":true}}')
# Coin-M <symbol>@aggTrade (delivery docs example shape): quantity in contracts.
COINM_AGG = (f'{{"e":"aggTrade","E":{T_MS + 1},"a":424951,"s":"BTCUSD_200626","p":"9643.5","q":"2",'
             f'"f":606073,"l":606073,"T":{T_MS},"m":false}}')
ETH_COINM_AGG = COINM_AGG.replace("BTCUSD_200626", "ETHUSD_PERP").replace('"p":"9643.5"', '"p":"3001.25"')


def combined(stream: str, data: str) -> str:
    return f'{{"stream":"{stream}","data":{data}}}'


def test_spot_trade_extreme_lot_and_price() -> None:
    trade = parse_message(combined("shibusdt@trade", SPOT_TRADE_SHIB), "spot")
    assert isinstance(trade, Trade), trade
    assert (trade.qty, trade.price, trade.base, trade.quote_asset, trade.kind) == (
        "46116860414.00000000", "0.00000001", "SHIB", "USDT", "spot")
    assert trade.trade_count == 1 and trade.first_trade_id is None and trade.contract_size is None
    assert trade.quote == Decimal("461.16860414")


def test_usdm_agg_trade_counts_exchange_trades() -> None:
    trade = parse_message(combined("btcusdt@aggTrade", USDM_AGG), "usdm")
    assert isinstance(trade, Trade), trade
    assert (trade.trade_id, trade.first_trade_id, trade.last_trade_id, trade.trade_count) == (5933014, 100, 105, 6)
    assert (trade.kind, trade.inverse, trade.quote) == ("perpetual", False, Decimal("12619899.00"))
    assert decode_trade(encode(trade)) == trade


@pytest.mark.parametrize(("payload", "symbol", "kind", "size", "notional"), [
    (COINM_AGG, "BTCUSD_200626", "future", "100", Decimal(200)),  # 2 contracts x 100 USD
    (ETH_COINM_AGG, "ETHUSD_PERP", "perpetual", "10", Decimal(20)),  # 2 contracts x 10 USD
])
def test_coinm_agg_trade_is_inverse_with_contract_size(payload, symbol, kind, size, notional) -> None:
    trade = BinanceMarket.from_settings(_settings(), "coinm").parse(payload)
    assert isinstance(trade, Trade), trade
    assert (trade.market, trade.symbol, trade.base, trade.quote_asset, trade.kind) == (
        "coinm", symbol, symbol[:3], "USD", kind)
    assert (trade.contract_size, trade.inverse, trade.trade_count) == (size, True, 1)
    assert trade.quote == notional and trade.base_qty == notional / Decimal(trade.price)


def test_dated_usdm_symbol_is_a_future() -> None:
    trade = parse_message(USDM_AGG.replace('"BTCUSDT"', '"BTCUSDT_210924"'), "usdm")
    assert isinstance(trade, Trade) and (trade.symbol, trade.kind, trade.base) == ("BTCUSDT_210924", "future", "BTC")


@pytest.mark.parametrize(("payload", "market", "reason"), [
    (USDM_AGG.replace('"l":105', '"l":99'), "usdm", "field 'l' (99) is below 'f' (100)"),
    (USDM_AGG.replace('"f":100,', ''), "usdm", "field 'f' is missing"),
    (COINM_AGG, "spot", "is a futures symbol, not spot"),
    (USDM_AGG, "coinm", "is not <BASE>USD_PERP"),
    (USDM_AGG.replace('"BTCUSDT"', '"BTCUSD_PERP"'), "usdm", "is a coin-M symbol"),
    (SPOT_TRADE_SHIB.replace('"q":"46116860414.00000000"', '"q":"-5"'), "spot", "field 'q' is not a positive"),
])
def test_bad_shapes_are_rejects_naming_the_field(payload, market, reason) -> None:
    record = parse_message(payload, market)
    assert isinstance(record, Reject) and reason in record.reason and record.raw == payload


def test_rest_rows_of_every_market() -> None:
    spot = parse_rest_trade({"id": 28457, "price": "4.00000100", "qty": "12.00000000", "quoteQty": "48.000012",
                             "time": T_MS, "isBuyerMaker": True, "isBestMatch": True}, "BNBBTC", "spot")
    assert isinstance(spot, Trade) and (spot.base, spot.quote_asset, spot.trade_count) == ("BNB", "BTC", 1)
    agg = {"a": 26129, "p": "0.01633102", "q": "4.70443515", "f": 27781, "l": 27790, "T": T_MS, "m": True}
    spot_agg = parse_rest_agg_trade({**agg, "M": True}, "LTCBTC", "spot")
    assert isinstance(spot_agg, Trade) and spot_agg.trade_count == 10
    dapi = BinanceMarket.from_settings(_settings(), "coinm")
    row = {"a": 416690, "p": "9642.4", "q": "3", "f": 595259, "l": 595260, "T": T_MS, "m": False}
    coinm = dapi.parse_backfill(row, "BTCUSD_PERP")
    assert isinstance(coinm, Trade) and (coinm.trade_count, coinm.quote) == (2, Decimal(300))
    assert dapi.backfill_request("BTCUSD_PERP", 416690, 1000).url.endswith("/dapi/v1/aggTrades")
    bad = parse_rest_agg_trade({**agg, "l": 1}, "LTCBTC", "spot")
    assert isinstance(bad, Reject) and "below" in bad.reason


def test_instrument_table() -> None:
    assert instrument("BTCUSD_PERP", "coinm").contract_size == "100"
    assert instrument("ADAUSD_PERP", "coinm").contract_size == "10"
    assert instrument("BTCUSDT", "usdm").kind == "perpetual" and instrument("BTCUSDT", "spot").kind == "spot"
    with pytest.raises(ValueError):
        instrument("btc-usdt", "spot")


# --- dumps: with and without header, ms and µs, every market ----------------------------------------------

DUMPS = {
    # file name, content, expected market, expected (trade ids, trade counts)
    "spot trades µs": ("BTCUSDT-trades-2025-01-01.csv",
                       "4343811001,93576.00000000,46116860414.00000000,1.0,1735689600012345,True,True\n",
                       "spot", [1], ),
    "spot aggTrades ms": ("SHIBUSDT-aggTrades-2024-06-01.csv",
                          "3026123447,0.00002345,46116860414.00,3712441101,3712441110,1717200000123,True,True\n",
                          "spot", [10]),
    "usdm aggTrades header": ("BTCUSDT-aggTrades-2025-01-01.csv",
                              "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
                              "2503219847,93510.20,0.150,6042513012,6042513015,1735689600230,true\n",
                              "usdm", [4]),
    "usdm aggTrades no header": ("BTCUSDT-aggTrades-2021-01-01.csv",
                                 "2503219847,93510.20,0.150,6042513012,6042513015,1609459200230,true\n",
                                 "usdm", [4]),
    "usdm aggTrades no header, no name": ("dump.csv",
                                          "2503219847,93510.20,0.150,6042513012,6042513013,1609459200230,true\n",
                                          "usdm", [2]),
    "usdm trades header": ("ETHUSDT-trades-2025-01-01.csv",
                           "id,price,qty,quote_qty,time,is_buyer_maker\n6042513011,3510.10,0.002,7.0202,1735689600105,false\n",
                           "usdm", [1]),
    "coinm aggTrades header": ("BTCUSD_PERP-aggTrades-2025-01-01.csv",
                               "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
                               "416690,97010.1,25,595259,595263,1735689600123,false\n",
                               "coinm", [5]),
    "coinm trades header": ("ETHUSD_250328-trades-2025-01-01.csv",
                            "id,price,qty,base_qty,time,is_buyer_maker\n4312093,3400.5,25,0.07351860,1735689600123,true\n",
                            "coinm", [1]),
}


def _replay(path: Path, market: str | None = None, symbol: str | None = None) -> list:
    async def run() -> list:
        return [r async for r in replay_trades(path, symbol, 0.0, market)]

    return asyncio.run(run())


@pytest.mark.parametrize("case", list(DUMPS))
def test_dump_market_layout_and_trade_count_from_the_file(case: str, tmp_path: Path) -> None:
    name, content, market, counts = DUMPS[case]
    path = tmp_path / name
    path.write_text(content)
    records = _replay(path, symbol="BTCUSDT" if name == "dump.csv" else None)  # no symbol in the name: given
    assert all(isinstance(r, Trade) for r in records), records
    assert {r.market for r in records} == {market} and [r.trade_count for r in records] == counts
    if market == "coinm":
        assert records[0].inverse and records[0].quote == Decimal(25) * Decimal(records[0].contract_size)


def test_market_override_wins(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-aggTrades-2025-01-01.csv"
    path.write_text(DUMPS["usdm aggTrades no header"][1])
    assert {r.market for r in _replay(path, "usdm")} == {"usdm"}
    spot_path = tmp_path / "BTCUSDT-trades-2025-01-01.csv"
    spot_path.write_text(DUMPS["spot trades µs"][1])
    assert {r.market for r in _replay(spot_path, "usdm")} == {"usdm"}  # --market says so


def test_detect_helpers() -> None:
    header = ["agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker"]
    fmt = detect_dump_format(header, None, header=True)
    assert fmt is USDM_AGG_TRADES
    assert detect_dump_market(fmt, "ETHUSD_210924", header) == "coinm"
    assert detect_dump_market(fmt, "BTCUSDT", header) == "usdm"
    # Seven headerless columns: the sixth is a boolean in spot trades and a timestamp in futures aggTrades.
    assert detect_dump_format(["1", "2.5", "3", "7.5", "1735689600123", "true", "true"]) is SPOT_TRADES
    assert detect_dump_format(["1", "2.5", "3", "10", "12", "1735689600123", "true"]) is USDM_AGG_TRADES
    assert detect_dump_market(SPOT_TRADES, "BTCUSDT") == "spot"


def _settings():
    from argos.settings import IngestSettings

    return IngestSettings(symbols=["BTCUSD_PERP"], markets=["coinm"])
