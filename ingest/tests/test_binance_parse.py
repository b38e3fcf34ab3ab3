"""Binance parsers against recorded-looking payloads: every shape, every failure names its field."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argos.contract import Reject, Trade, now_us
from argos.settings import IngestSettings
from argos_ingest.venues import Control, venue_markets
from argos_ingest.venues.binance import Binance, BinanceMarket, parse_message, parse_rest_agg_trade, parse_rest_trade
from argos_ingest.venues.binance_dumps import (
    SPOT_AGG_TRADES,
    SPOT_TRADES,
    USDM_AGG_TRADES,
    USDM_TRADES,
    detect_dump_format,
    dump_name_info,
    is_header,
    parse_dump_row,
)

SPOT_TRADE = (
    '{"e":"trade","E":1764080000124,"s":"BTCUSDT","t":5293614470,"p":"97000.01000000",'
    '"q":"0.01250000","T":1764080000123,"m":true,"M":true}'
)
SPOT_TRADE_MICROS = (
    '{"e":"trade","E":1764080000124567,"s":"BTCUSDT","t":5293614471,"p":"97000.02000000",'
    '"q":"0.00100000","T":1764080000124001,"m":false,"M":true}'
)
USDM_AGG = (
    '{"e":"aggTrade","E":1764080000124,"s":"BTCUSDT","a":2783152121,"p":"96950.10","q":"0.015",'
    '"f":6715240123,"l":6715240125,"T":1764080000123,"m":false}'
)


def cells(line: str) -> list[str]:
    return line.split(",")


def combined(stream: str, data: str) -> str:
    return f'{{"stream":"{stream}","data":{data}}}'


def test_spot_trade_event() -> None:
    before = now_us()
    trade = parse_message(SPOT_TRADE, "spot")
    assert trade == Trade("binance", "spot", "BTCUSDT", 5293614470, "97000.01000000", "0.01250000", True,
                          1764080000123000, 1764080000124000, trade.ingest_time)
    assert trade.ingest_time >= before
    assert trade.side == "sell"


def test_combined_wrapper_and_microseconds() -> None:
    trade = parse_message(combined("btcusdt@trade", SPOT_TRADE_MICROS), "spot")
    assert isinstance(trade, Trade)
    assert (trade.trade_id, trade.trade_time, trade.event_time) == (5293614471, 1764080000124001, 1764080000124567)
    assert trade.is_buyer_maker is False


def test_usdm_agg_trade_uses_aggregate_id() -> None:
    trade = parse_message(combined("btcusdt@aggTrade", USDM_AGG), "usdm")
    assert isinstance(trade, Trade)
    assert (trade.market, trade.trade_id, trade.price, trade.qty) == ("usdm", 2783152121, "96950.10", "0.015")


def test_spot_agg_trade_bytes_frame_lower_case_symbol() -> None:
    raw = USDM_AGG.replace('"m":false}', '"m":true,"M":true}').replace('"BTCUSDT"', '"btcusdt"').encode()
    trade = parse_message(raw, "spot")
    assert isinstance(trade, Trade) and trade.symbol == "BTCUSDT" and trade.is_buyer_maker


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ('{"result":null,"id":1}', "ack"),
        ('{"error":{"code":2,"msg":"Invalid request"},"id":1}', "error"),
        ('{"code":-1121,"msg":"Invalid symbol."}', "error"),
        ('{"e":"serverShutdown","E":1770123456789}', "shutdown"),
        ('{"event":{"e":"serverShutdown","E":1770123456789}}', "shutdown"),
        (combined("btcusdt@trade", '{"e":"serverShutdown","E":1770123456789}'), "shutdown"),
    ],
)
def test_control_frames(frame: str, kind: str) -> None:
    parsed = parse_message(frame)
    assert isinstance(parsed, Control) and parsed.kind == kind


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('"p":"97000.01000000"', '"p":97000.01'), "'p'"),
        (('"p":"97000.01000000"', '"p":"-1"'), "'p'"),
        (('"p":"97000.01000000"', '"p":"NaN"'), "'p'"),
        (('"q":"0.01250000"', '"q":"0.00000000"'), "'q'"),
        (('"q":"0.01250000"', '"q":"1e-3"'), "'q'"),
        (('"t":5293614470', '"t":"abc"'), "'t'"),
        (('"t":5293614470', '"t":-5'), "'t'"),
        (('"t":5293614470', '"t":true'), "'t'"),
        (('"T":1764080000123', '"T":1.5'), "'T'"),
        (('"E":1764080000124', '"E":null'), "'E'"),
        (('"m":true', '"m":"yes"'), "'m'"),
        (('"s":"BTCUSDT"', '"s":"BTC-USDT"'), "'s'"),
        (('"s":"BTCUSDT",', ""), "'s'"),
        (('"e":"trade"', '"e":"kline"'), "'e'"),
    ],
)
def test_bad_field_becomes_reject_naming_it(change: tuple[str, str], field: str) -> None:
    raw = SPOT_TRADE.replace(*change)
    parsed = parse_message(raw, "spot")
    assert isinstance(parsed, Reject), parsed
    assert field in parsed.reason and parsed.reason.startswith("binance: ")
    assert parsed.raw == raw and parsed.venue == "binance"


@pytest.mark.parametrize("raw", ["", "{", "[1,2]", "null", "42", b"\x00\xff\xfe", '{"stream":"x","data":[1]}'])
def test_garbage_frames_are_rejects(raw: str | bytes) -> None:
    parsed = parse_message(raw)
    assert isinstance(parsed, Reject) and parsed.reason


def test_rest_historical_trades_row() -> None:
    row = orjson.loads('{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012",'
                       '"time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}')
    trade = parse_rest_trade(row, "bnbbtc", "spot")
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.trade_id, trade.trade_time, trade.event_time) == (
        "BNBBTC", 28457, 1499865549590000, 1499865549590000)


@pytest.mark.parametrize(("market", "extra"), [("spot", ',"M":true'), ("usdm", "")])
def test_rest_agg_trades_row(market: str, extra: str) -> None:
    row = orjson.loads(f'{{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,'
                       f'"T":1498793709153,"m":true{extra}}}')
    trade = parse_rest_agg_trade(row, "BTCUSDT", market)
    assert isinstance(trade, Trade) and trade.trade_id == 26129 and trade.market == market


def test_rest_row_bad_field_reject() -> None:
    row = {"id": 1, "price": "x", "qty": "1", "time": 1499865549590, "isBuyerMaker": True}
    reject = parse_rest_trade(row, "BTCUSDT")
    assert isinstance(reject, Reject) and "'price'" in reject.reason and '"price":"x"' in reject.raw


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1764080000123, 1764080000123000), (1764080000123456, 1764080000123456),
     (1764080000123456789, 1764080000123456), ("1735689600012345", 1735689600012345), (0, 0)],
)
def test_timestamps_normalize_to_microseconds(value: int | str, expected: int) -> None:
    assert Binance.timestamp_us(value) == expected


@pytest.mark.parametrize("value", [True, -1, 1.5, "12a", None])
def test_bad_timestamps_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        Binance.timestamp_us(value)


def test_dump_rows_spot_trades_micro_and_milli() -> None:
    micro = cells("4343811001,93576.00000000,0.00012000,11.22912000,1735689600012345,True,True")
    milli = cells("4343811001,93576.00000000,0.00012000,11.22912000,1704067200012,False,True")
    fmt = detect_dump_format(micro)
    assert fmt is SPOT_TRADES
    a, b = parse_dump_row(micro, fmt, "BTCUSDT"), parse_dump_row(milli, fmt, "BTCUSDT")
    assert isinstance(a, Trade) and a.trade_time == a.event_time == 1735689600012345 and a.is_buyer_maker
    assert isinstance(b, Trade) and b.trade_time == 1704067200012000 and not b.is_buyer_maker


def test_dump_rows_spot_agg_trades_and_invalidated_row_skipped() -> None:
    good = cells("3026123447,61234.50000000,0.01600000,3712441101,3712441102,1717200000123,True,True")
    dead = cells("3026123448,0.00000000,0.00000000,-1,-1,1717200000140,False,True")
    assert detect_dump_format(good) is SPOT_AGG_TRADES
    trade = parse_dump_row(good, SPOT_AGG_TRADES, "BTCUSDT")
    assert isinstance(trade, Trade) and trade.trade_id == 3026123447
    assert parse_dump_row(dead, SPOT_AGG_TRADES, "BTCUSDT") is None


def test_dump_headers_pick_usdm_layouts() -> None:
    agg = cells("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker")
    trades = cells("id,price,qty,quote_qty,time,is_buyer_maker")
    assert is_header(agg) and is_header(trades)
    assert not is_header(cells("2503219846,93510.10,0.002,6042513011,6042513011,1735689600105,false"))
    assert detect_dump_format(agg, header=True) is USDM_AGG_TRADES
    assert detect_dump_format(trades, header=True) is USDM_TRADES
    row = cells("2503219847,93510.20,0.150,6042513012,6042513015,1735689600230,true")
    trade = parse_dump_row(row, USDM_AGG_TRADES, "BTCUSDT", "usdm")
    assert isinstance(trade, Trade) and trade.qty == "0.150" and trade.is_buyer_maker


def test_seven_columns_disambiguated_by_file_name() -> None:
    row = cells("2503219846,93510.10,0.002,6042513011,6042513011,1735689600105,false")
    assert detect_dump_format(row, "aggTrades") is USDM_AGG_TRADES
    assert detect_dump_format(row, "trades") is SPOT_TRADES
    assert dump_name_info("BTCUSDT-aggTrades-2025-01-01.zip") == ("BTCUSDT", "aggTrades")
    assert dump_name_info("whatever.csv") == (None, None)


def test_dump_bad_rows_are_rejects() -> None:
    short = parse_dump_row(["1", "2"], SPOT_TRADES, "BTCUSDT")
    assert isinstance(short, Reject) and "columns" in short.reason
    bad = parse_dump_row(cells("1,abc,0.1,0.1,1735689600012345,True,True"), SPOT_TRADES, "BTCUSDT")
    assert isinstance(bad, Reject) and "'price'" in bad.reason and bad.raw.startswith("1,abc")


def test_venue_markets_bind_urls_and_facts() -> None:
    settings = IngestSettings(symbols=["BTCUSDT", "ETHUSDT"], markets=["spot", "usdm"])
    spot, usdm = venue_markets(settings)
    assert spot.stream_url(settings.symbols) == (
        "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade&timeUnit=MICROSECOND")
    assert usdm.stream_url(["BTCUSDT"]) == "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade"
    assert usdm.backfill_request("BTCUSDT", 7, 1000).url == "https://fapi.binance.com/fapi/v1/aggTrades"
    request = spot.backfill_request("BTCUSDT", 7, 3)
    assert request.url == "https://api.binance.com/api/v3/historicalTrades"
    assert request.params == {"symbol": "BTCUSDT", "fromId": "7", "limit": "3"}
    assert (spot.venue, spot.market, spot.consecutive_ids, spot.subscribe_messages(["BTCUSDT"])) == (
        "binance", "spot", True, [])
    assert isinstance(spot.parse_backfill([1, 2], "BTCUSDT"), Reject)
    coinm = BinanceMarket.from_settings(settings, "coinm")
    assert coinm.stream_url(["BTCUSD_PERP"]) == "wss://dstream.binance.com/stream?streams=btcusd_perp@aggTrade"
    assert coinm.backfill_request("BTCUSD_PERP", 7, 1000).url == "https://dapi.binance.com/dapi/v1/aggTrades"
    with pytest.raises(ValueError, match="coinm"):
        Binance.market("options")


# --- fuzz: the parsers never raise and always return a record ------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=5),
    max_leaves=12,
)
_trade_like = st.fixed_dictionaries(
    {}, optional={k: _json_values | st.sampled_from(["trade", "aggTrade", "BTCUSDT", "1.5", "0", "-1"])
                  for k in ["e", "E", "s", "t", "a", "p", "q", "T", "m", "stream", "data", "result", "id"]},
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_fuzz_any_frame(raw: bytes | str) -> None:
    assert isinstance(parse_message(raw, "spot"), Trade | Reject | Control)


@settings(max_examples=300, deadline=None)
@given(_trade_like, st.booleans())
def test_fuzz_trade_like_json(message: dict[str, object], wrap: bool) -> None:
    payload = {"stream": "btcusdt@trade", "data": message} if wrap else message
    raw = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS) if _encodable(payload) else b"{}"
    assert isinstance(parse_message(raw, "usdm"), Trade | Reject | Control)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "price", "qty", "time", "isBuyerMaker", "a", "p", "q", "T", "m"]),
                       _json_values, max_size=10))
def test_fuzz_rest_rows(row: dict[str, object]) -> None:
    assert isinstance(parse_rest_trade(row, "BTCUSDT"), Trade | Reject)
    assert isinstance(parse_rest_agg_trade(row, "BTCUSDT"), Trade | Reject)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12) | st.sampled_from(["-1", "0", "1", "True", "1735689600012345"]), max_size=9))
def test_fuzz_dump_rows(fields: list[str]) -> None:
    fmt = detect_dump_format(fields) or SPOT_TRADES
    assert parse_dump_row(fields, fmt, "BTCUSDT") is None or isinstance(
        parse_dump_row(fields, fmt, "BTCUSDT"), Trade | Reject)


def _encodable(value: object) -> bool:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True
