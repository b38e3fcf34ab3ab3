"""Replay of Binance public data dumps: layouts, units, zip, pacing."""

from __future__ import annotations

import asyncio
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from argos.contract import Record, Reject, Trade
from argos_ingest.replay import replay_trades

DATA = Path(__file__).parent / "data"


def collect(path: Path, symbol: str | None = None, speed: float = 0.0, market: str = "spot") -> list[Record]:
    async def run() -> list[Record]:
        return [r async for r in replay_trades(path, symbol, speed, market)]

    return asyncio.run(run())


def trades(records: list[Record]) -> list[Trade]:
    return [r for r in records if isinstance(r, Trade)]


def test_spot_trades_microseconds_no_header() -> None:
    records = collect(DATA / "BTCUSDT-trades-2025-01-01.csv")
    assert [t.trade_id for t in trades(records)] == [4343811001, 4343811002, 4343811003, 4343811004]
    first = trades(records)[0]
    assert (first.symbol, first.market, first.trade_time, first.event_time) == (
        "BTCUSDT", "spot", 1735689600012345, 1735689600012345)
    assert first.price == "93576.00000000" and first.is_buyer_maker


def test_spot_agg_trades_milliseconds_skip_invalidated() -> None:
    records = collect(DATA / "BTCUSDT-aggTrades-2024-06-01.csv")
    assert [t.trade_id for t in trades(records)] == [3026123447, 3026123449]
    assert len(records) == 2
    assert records[0].trade_time == 1717200000123000  # ms → µs


def test_usdm_agg_trades_with_header() -> None:
    records = collect(DATA / "BTCUSDT-aggTrades-2025-01-01.csv", market="usdm")
    assert [t.trade_id for t in trades(records)] == [2503219846, 2503219847, 2503219848]
    assert {t.market for t in trades(records)} == {"usdm"}
    assert trades(records)[1].qty == "0.150"


def test_usdm_trades_with_header_and_explicit_symbol(tmp_path: Path) -> None:
    path = shutil.copy(DATA / "ETHUSDT-trades-2025-01-01.csv", tmp_path / "dump.csv")
    records = collect(Path(path), symbol="ethusdt", market="usdm")
    assert [(t.symbol, t.trade_id) for t in trades(records)] == [("ETHUSDT", 6042513011), ("ETHUSDT", 6042513012)]


def test_zip_with_one_csv(tmp_path: Path) -> None:
    archive = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(DATA / "BTCUSDT-trades-2025-01-01.csv", "BTCUSDT-trades-2025-01-01.csv")
    assert len(trades(collect(archive))) == 4


def test_bad_rows_become_rejects_and_replay_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "SOLUSDT-trades-2025-01-01.csv"
    path.write_text("1,190.5,1.0,190.5,1735689600000001,True,True\n"
                    "2,oops,1.0,190.5,1735689600000002,True,True\n"
                    "3,190.6,1.0,190.6,1735689600000003,False,True\n")
    records = collect(path)
    assert [type(r).__name__ for r in records] == ["Trade", "Reject", "Trade"]
    reject = records[1]
    assert isinstance(reject, Reject) and "'price'" in reject.reason and "oops" in reject.raw


def test_symbol_required_when_file_name_has_none(tmp_path: Path) -> None:
    path = shutil.copy(DATA / "BTCUSDT-trades-2025-01-01.csv", tmp_path / "dump.csv")
    with pytest.raises(ValueError, match="symbol"):
        collect(Path(path))


def test_streams_large_file_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-trades-2025-02-01.csv"
    with open(path, "w") as fh:
        for i in range(10_000):
            fh.write(f"{i + 1},100.{i % 100:02d},0.5,50,{1738368000000000 + i * 1000},True,True\n")
    ids = [t.trade_id for t in trades(collect(path))]
    assert ids == list(range(1, 10_001))


@pytest.mark.timeout(30)
def test_speed_paces_by_trade_time(tmp_path: Path) -> None:
    """Trades 1 s apart in trade time take ~0.1 s at speed 10, and nothing at speed 0."""
    path = tmp_path / "BTCUSDT-trades-2025-03-01.csv"
    path.write_text("".join(f"{i},100.0,1.0,100.0,{1740787200000 + i * 100},False,True\n" for i in range(11)))
    start = time.monotonic()
    assert len(collect(path, speed=10)) == 11
    paced = time.monotonic() - start
    start = time.monotonic()
    assert len(collect(path, speed=0)) == 11
    fast = time.monotonic() - start
    assert 0.09 <= paced < 1.0
    assert fast < paced
