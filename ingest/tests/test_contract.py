from decimal import Decimal

import orjson
import pytest

from argos.contract import Reject, Trade, decode_trade, encode, split_symbol


def _trade(**kw) -> Trade:
    base = dict(venue="binance", market="spot", symbol="BTCUSDT", trade_id=7, price="97000.00000001",
                qty="0.12345678", is_buyer_maker=True, trade_time=1_764_000_000_123_456,
                event_time=1_764_000_000_123_999, ingest_time=1_764_000_000_200_000)
    return Trade(**{**base, **kw})


def test_round_trip_keeps_decimal_precision():
    trade = _trade()
    wire = encode(trade)
    assert orjson.loads(wire)["price"] == "97000.00000001"
    assert decode_trade(wire) == trade
    assert trade.quote == Decimal("97000.00000001") * Decimal("0.12345678")


def test_taker_side_and_key():
    assert _trade(is_buyer_maker=True).side == "sell"
    assert _trade(is_buyer_maker=False).side == "buy"
    assert _trade().key == b"binance:BTCUSDT"


def test_reject_carries_raw_and_reason():
    record = orjson.loads(encode(Reject("binance", "field 'p' is not a decimal", '{"p":"x"}')))
    assert record == {"v": 2, "reject": "field 'p' is not a decimal", "venue": "binance", "raw": '{"p":"x"}'}


def test_decode_refuses_other_versions():
    with pytest.raises(ValueError, match="wire version"):
        decode_trade(b'{"v": 3}')


def test_v2_round_trip_carries_instrument_and_trade_range():
    trade = _trade(market="coinm", symbol="BTCUSD_PERP", price="97000.1", qty="12", contract_size="100",
                   inverse=True, first_trade_id=900, last_trade_id=902, trade_count=3)
    wire = orjson.loads(encode(trade))
    assert wire["v"] == 2 and wire["base"] == "BTC" and wire["quote_asset"] == "USD"
    assert wire["kind"] == "perpetual" and wire["contract_size"] == "100" and wire["trade_count"] == 3
    assert decode_trade(encode(trade)) == trade
    assert trade.quote == Decimal(1200)  # 12 contracts x 100 USD, not price x qty
    assert trade.base_qty == Decimal(1200) / Decimal("97000.1")


def test_v1_payload_still_decodes_with_defaults():
    v1 = {"v": 1, "venue": "binance", "market": "usdm", "symbol": "ETHBTC", "trade_id": 1, "price": "0.05",
          "qty": "2", "is_buyer_maker": False, "trade_time": 1, "event_time": 1, "ingest_time": 1}
    trade = decode_trade(orjson.dumps(v1))
    assert (trade.base, trade.quote_asset, trade.kind, trade.trade_count) == ("ETH", "BTC", "perpetual", 1)
    assert trade.contract_size is None and not trade.inverse and trade.quote == Decimal("0.10")
    assert _trade(market="usdm", symbol="BTCUSDT_210924").kind == "future"
    assert _trade(market="usdm", symbol="BTCUSDT").kind == "perpetual" and _trade().kind == "spot"


@pytest.mark.parametrize(("symbol", "assets"), [
    ("BTCUSDT", ("BTC", "USDT")), ("ETHUSD_210924", ("ETH", "USD")), ("BTCUSDT_210924", ("BTC", "USDT")),
    ("BTCUSD_PERP", ("BTC", "USD")), ("1000SHIBFDUSD", ("1000SHIB", "FDUSD")), ("XRPETH", ("XRP", "ETH")),
    ("DOGEUSDC", ("DOGE", "USDC")), ("USDCUSDT", ("USDC", "USDT")),
])
def test_split_symbol(symbol, assets):
    assert split_symbol(symbol) == assets


def test_bad_instruments_are_refused():
    with pytest.raises(ValueError, match="quote asset"):
        split_symbol("ZZZZ")
    with pytest.raises(ValueError, match="contract_size"):
        _trade(inverse=True)
    with pytest.raises(ValueError, match="trade_count"):
        _trade(trade_count=0)
    with pytest.raises(ValueError, match="kind"):
        _trade(kind="option")
