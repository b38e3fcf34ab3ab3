"""Bybit and OKX trade files replay into the contract; the synthetic market spreads over venues consistently."""

from __future__ import annotations

import asyncio
import gzip
import zipfile
from pathlib import Path

import pytest

from argos.contract import Reject, Trade
from argos.settings import load_settings
from argos_ingest.multivenue import multi_venue_trades
from argos_ingest.pump import open_source
from argos_ingest.venue_replay import replay_venue_trades, symbol_from_name

BYBIT_LINEAR = """timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional
1704067200.0893,BTCUSDT,Sell,0.001,42314.00,ZeroMinusTick,b7a0c7b1-5a4b-5d8e-9d1a-9c2a0a7e4c11,4.2314e+09,0.001,42.314
1704067200.5,BTCUSDT,Buy,0.250,42314.50,PlusTick,0c9e2c36-54f5-5b8e-8a4a-3f6f0b1c2d3e,1.05786e+12,0.25,10578.625
1704067201.2,BTCUSDT,Buy,-1,42315.00,PlusTick,1d9e2c36-54f5-5b8e-8a4a-3f6f0b1c2d3f,0,0,0
"""
BYBIT_SPOT = "id,timestamp,price,volume,side\n1,1704067200123,42314.01,0.002,buy\n2,1704067200456,42313.99,0.5,sell\n"
OKX = """instrument_name,trade_id,side,price,size,created_time
BTC-USDT,452331221,buy,42300.1,0.0102,1704067200012
BTC-USDT,452331222,sell,42300.0,0.5,1704067200340
"""


def records(path: Path, venue: str, market: str = "") -> list:
    async def run() -> list:
        return [r async for r in replay_venue_trades(path, venue, market)]

    return asyncio.run(run())


def test_bybit_linear_file_replays_with_microseconds_and_rejects_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT2024-01-01.csv.gz"
    path.write_bytes(gzip.compress(BYBIT_LINEAR.encode()))
    got = records(path, "bybit")
    first, second, bad = got
    assert isinstance(first, Trade) and isinstance(second, Trade)
    assert (first.venue, first.market, first.kind, first.symbol) == ("bybit", "linear", "perpetual", "BTCUSDT")
    assert first.trade_time == 1704067200089300 and first.is_buyer_maker is True and second.is_buyer_maker is False
    assert first.trade_id != second.trade_id
    assert isinstance(bad, Reject) and "'v'" in bad.reason


def test_bybit_spot_and_okx_files(tmp_path: Path) -> None:
    spot = tmp_path / "ETHUSDT_2024-01-01.csv.gz"
    spot.write_bytes(gzip.compress(BYBIT_SPOT.replace("42314", "2314").encode()))
    a, b = records(spot, "bybit")
    assert b.is_buyer_maker is True and b.qty == "0.5"
    assert (a.symbol, a.market, a.trade_time, a.trade_id, a.is_buyer_maker) == ("ETHUSDT", "spot", 1704067200123000,
                                                                               1, False)
    archive = tmp_path / "BTC-USDT-trades-2024-01-01.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("BTC-USDT-trades-2024-01-01.csv", OKX)
    x, y = records(archive, "okx")
    assert (x.venue, x.symbol, x.trade_id, x.trade_time, x.is_buyer_maker) == ("okx", "BTC-USDT", 452331221,
                                                                              1704067200012000, False)
    assert y.is_buyer_maker is True
    assert symbol_from_name("BTCUSDT2024-01-01.csv.gz") == "BTCUSDT"
    with pytest.raises(ValueError, match="no trade files"):
        records(archive, "coinbase")


def test_replay_source_picks_the_venue_reader(tmp_path: Path) -> None:
    path = tmp_path / "BTC-USDT-trades-2024-01-01.csv"
    path.write_text(OKX)
    settings = load_settings(ingest={"source": "replay", "venues": "okx", "replay_path": str(path)})

    async def run() -> list:
        return [r async for r in open_source(settings)]

    assert [r.trade_id for r in asyncio.run(run())] == [452331221, 452331222]


def test_synthetic_market_spreads_over_venues_in_their_spelling() -> None:
    async def run() -> list[Trade]:
        source = multi_venue_trades(["BTCUSDT", "ETHUSDT"], ["binance", "coinbase", "okx", "bybit"], 20_000,
                                    seed=3, limit=4_000)
        return [t async for t in source]

    trades = asyncio.run(run())
    assert len(trades) == 4_000
    by_key: dict[tuple[str, str], list[Trade]] = {}
    for t in trades:
        by_key.setdefault((t.venue, t.symbol), []).append(t)
    assert set(by_key) == {("binance", "BTCUSDT"), ("binance", "ETHUSDT"), ("coinbase", "BTC-USD"),
                           ("coinbase", "ETH-USD"), ("okx", "BTC-USDT"), ("okx", "ETH-USDT"),
                           ("bybit", "BTCUSDT"), ("bybit", "ETHUSDT")}
    for (venue, _), seq in by_key.items():
        ids = [t.trade_id for t in seq]
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"{venue}: ids not consecutive"
    share = {v: sum(len(s) for (w, _), s in by_key.items() if w == v) / len(trades) for v, _ in by_key}
    assert share["binance"] > share["coinbase"] > 0.05
    assert {t.base for t in trades} == {"BTC", "ETH"}
    assert {t.quote_asset for t in by_key[("coinbase", "BTC-USD")]} == {"USD"}
