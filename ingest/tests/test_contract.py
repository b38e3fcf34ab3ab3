from decimal import Decimal

import orjson
import pytest

from argos.contract import Reject, Trade, decode_trade, encode


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
    assert record == {"v": 1, "reject": "field 'p' is not a decimal", "venue": "binance", "raw": '{"p":"x"}'}


def test_decode_refuses_other_versions():
    with pytest.raises(ValueError, match="wire version"):
        decode_trade(b'{"v": 2}')
