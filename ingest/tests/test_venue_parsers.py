"""Coinbase, OKX and Bybit parsers on the payload shapes their docs show, and on what they must refuse."""

from __future__ import annotations

import pytest

from argos.contract import Reject, Trade, encode
from argos.settings import IngestSettings
from argos_ingest.venues import bybit as bybit_venue
from argos_ingest.venues import coinbase, okx, venue_markets
from argos_ingest.venues.base import Control
from argos_ingest.venues.instruments import split_pair

COINBASE_MATCH = ('{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8",'
                  '"taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z",'
                  '"product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}')
OKX_PUSH = ('{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474",'
            '"px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0",'
            '"seqId":1234}]}')
BYBIT_PUSH = ('{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,'
              '"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick",'
              '"i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617}]}')


def test_coinbase_match_is_an_exact_trade_with_the_maker_side_turned_around() -> None:
    trade = coinbase.parse_message(COINBASE_MATCH)
    assert isinstance(trade, Trade)
    assert (trade.venue, trade.market, trade.symbol, trade.trade_id) == ("coinbase", "spot", "BTC-USD", 10)
    assert (trade.price, trade.qty, trade.trade_time) == ("400.23", "5.23512", 1415348367028459)
    assert trade.is_buyer_maker is False and trade.side == "buy"  # a resting sell was lifted: taker bought
    assert (trade.base, trade.quote_asset, trade.kind, trade.contract_size) == ("BTC", "USD", "spot", None)
    assert b'"venue":"coinbase"' in encode(trade)
    last = coinbase.parse_message(COINBASE_MATCH.replace('"match"', '"last_match"').replace('"sell"', '"buy"'))
    assert isinstance(last, Trade) and last.is_buyer_maker is True


def test_coinbase_rest_row_control_frames_and_rejects() -> None:
    row = {"time": "2014-11-07T22:19:28.578544Z", "trade_id": 74, "price": "10.00000000", "size": "0.01000000",
           "side": "buy"}
    trade = coinbase.parse_rest_trade(row, "BTC-USD")
    assert isinstance(trade, Trade) and trade.trade_id == 74 and trade.is_buyer_maker is True
    assert coinbase.parse_message('{"type":"subscriptions","channels":[]}') == Control("ack", "subscriptions")
    error = coinbase.parse_message('{"type":"error","message":"Failed to subscribe","reason":"bad product"}')
    assert isinstance(error, Control) and error.kind == "error" and "bad product" in error.detail
    bad = coinbase.parse_message(COINBASE_MATCH.replace('"400.23"', '"-1"'))
    assert isinstance(bad, Reject) and "'price'" in bad.reason and bad.raw.startswith('{"type":"match"')
    assert "JSON" in coinbase.parse_message("{nope").reason
    assert "'time'" in coinbase.parse_message(COINBASE_MATCH.replace("2014-11-07T", "yesterday ")).reason
    assert "'side'" in coinbase.parse_rest_trade({**row, "side": "up"}, "BTC-USD").reason


def test_okx_push_covers_its_aggregated_fills() -> None:
    [trade] = okx.parse_message(OKX_PUSH)
    assert isinstance(trade, Trade)
    assert (trade.trade_id, trade.first_trade_id, trade.last_trade_id, trade.trade_count) == (
        130639474, 130639472, 130639474, 3)
    assert okx.OkxMarket().first_id(trade) == 130639472
    assert trade.is_buyer_maker is False and trade.trade_time == 1630048897897000
    assert (trade.symbol, trade.base, trade.quote_asset, trade.kind) == ("BTC-USDT", "BTC", "USDT", "spot")


def test_okx_swaps_keep_contracts_with_their_size() -> None:
    swap = OKX_PUSH.replace('"BTC-USDT"', '"BTC-USDT-SWAP"').replace('"0.12060306"', '"12"')
    [trade] = okx.parse_message(swap)
    assert isinstance(trade, Trade)
    assert (trade.market, trade.kind, trade.qty, trade.contract_size) == ("swap", "perpetual", "12", "0.01")
    assert str(trade.base_qty) == "0.12"
    [inverse] = okx.parse_message(swap.replace("BTC-USDT-SWAP", "BTC-USD-SWAP"))
    assert inverse.inverse and inverse.contract_size == "100" and float(inverse.quote) == 1200.0
    [unknown] = okx.parse_message(swap.replace("BTC-USDT-SWAP", "PEPE-USDT-SWAP"))
    assert isinstance(unknown, Reject) and "CONTRACT_SIZES" in unknown.reason


def test_okx_controls_and_a_bad_element_does_not_take_the_good_one_down() -> None:
    assert okx.parse_message("pong") == Control("ack", "pong")
    notice = okx.parse_message('{"event":"notice","code":"64008","msg":"The connection will soon be closed"}')
    assert isinstance(notice, Control) and notice.kind == "shutdown"
    ack = okx.parse_message('{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a"}')
    assert isinstance(ack, Control) and ack.kind == "ack"
    assert okx.parse_message('{"event":"error","code":"60012","msg":"Invalid request"}').kind == "error"
    two = OKX_PUSH.replace('"data":[{', '"data":[{"instId":"BTC-USDT","tradeId":"x"},{')
    bad, good = okx.parse_message(two)
    assert isinstance(bad, Reject) and "'tradeId'" in bad.reason and isinstance(good, Trade)
    assert "'count'" in okx.parse_message(OKX_PUSH.replace('"count":"3"', '"count":"0"'))[0].reason
    rows = okx.rest_rows({"code": "0", "msg": "", "data": [{"instId": "BTC-USDT", "side": "sell", "sz": "0.00001",
                                                             "px": "29963.2", "tradeId": "242720720",
                                                             "ts": "1654161646974"}]})
    trade = okx.parse_rest_trade(rows[0], "BTC-USDT")
    assert isinstance(trade, Trade) and trade.trade_id == 242720720 and trade.is_buyer_maker is True
    assert okx.rest_rows({"code": "50011", "msg": "Too Many Requests", "data": []}) is None


def test_bybit_push_ids_are_stable_hashes_of_opaque_ids() -> None:
    [trade] = bybit_venue.parse_message(BYBIT_PUSH, "linear")
    assert isinstance(trade, Trade)
    assert (trade.market, trade.kind, trade.symbol, trade.base, trade.quote_asset) == (
        "linear", "perpetual", "BTCUSDT", "BTC", "USDT")
    assert trade.is_buyer_maker is False and trade.event_time == 1672304486868000
    [again] = bybit_venue.parse_message(BYBIT_PUSH, "linear")
    assert again.trade_id == trade.trade_id and 0 <= trade.trade_id < 2**63
    spot = BYBIT_PUSH.replace('"20f43950-d8dd-5b31-9112-a178eb6023af"', '"2290000000061666327"')
    [numeric] = bybit_venue.parse_message(spot, "spot")
    assert numeric.trade_id == 2290000000061666327 and numeric.kind == "spot"
    assert not bybit_venue.BybitMarket().consecutive_ids


def test_bybit_controls_rejects_and_dump_rows() -> None:
    pong_spot = '{"success":true,"ret_msg":"pong","conn_id":"0970e817","op":"ping"}'
    pong_linear = '{"op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocsvfriu23r3er0-1b"}'
    assert bybit_venue.parse_message(pong_spot, "spot").kind == "ack"
    assert bybit_venue.parse_message(pong_linear, "linear").kind == "ack"
    failed = bybit_venue.parse_message('{"success":false,"ret_msg":"error:handler not found","op":"subscribe"}',
                                       "spot")
    assert isinstance(failed, Control) and failed.kind == "error"
    [bad] = bybit_venue.parse_message(BYBIT_PUSH.replace('"Buy"', '"Up"'), "spot")
    assert isinstance(bad, Reject) and "'S'" in bad.reason
    row = {"timestamp": "1704067200.0893", "symbol": "BTCUSDT", "side": "Sell", "size": "0.001", "price": "42314.00",
           "tickDirection": "ZeroMinusTick", "trdMatchID": "b7a0c7b1-5a4b-5d8e-9d1a-9c2a0a7e4c11"}
    trade = bybit_venue.parse_dump_row(row, "linear")
    assert isinstance(trade, Trade) and trade.trade_time == 1704067200089300 and trade.is_buyer_maker is True
    assert isinstance(bybit_venue.parse_dump_row({**row, "price": "0"}, "linear"), Reject)


def test_pairs_and_the_registry_spell_each_venues_symbols() -> None:
    assert split_pair("BTCUSDT") == ("BTC", "USDT") and split_pair("btc-usd") == ("BTC", "USD")
    assert split_pair("ETHFDUSD") == ("ETH", "FDUSD")
    with pytest.raises(ValueError, match="BASE-QUOTE"):
        split_pair("XYZ")
    settings = IngestSettings(source="live", venues="binance,coinbase,okx,bybit", symbols="btcusdt,okx:BTC-USDT-SWAP",
                              markets="spot,okx:swap,bybit:linear")
    got = {(m.venue, m.market): m.symbols for m in venue_markets(settings)}
    assert got == {("binance", "spot"): ("BTCUSDT",), ("coinbase", "spot"): ("BTC-USD",),
                   ("okx", "spot"): ("BTC-USDT",), ("okx", "swap"): ("BTC-USDT-SWAP",),
                   ("bybit", "spot"): ("BTCUSDT",), ("bybit", "linear"): ("BTCUSDT",)}
    with pytest.raises(ValueError, match="venues must be"):
        IngestSettings(venues="binance,kraken")
    with pytest.raises(ValueError, match="coinbase has no market"):
        venue_markets(IngestSettings(source="live", venues="coinbase", markets="coinbase:swap"))
