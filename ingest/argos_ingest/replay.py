"""Replay a Binance public data dump (``data.binance.vision``) as a live-looking record stream.

Reads ``.csv`` or a ``.zip`` holding one CSV, trades or aggTrades, spot (no header) or USD-M / coin-M futures
(header row, or none in old files), ms or µs timestamps. The market comes from the file (layout, header,
symbol) unless given. The file is streamed in batches read off the event loop, never loaded whole.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from argos.contract import Record, Reject, Trade, now_us
from argos_ingest.venues.binance import VENUE
from argos_ingest.venues.binance_dumps import (
    DumpFormat,
    detect_dump_format,
    detect_dump_market,
    dump_name_info,
    is_header,
    parse_dump_row,
)

BATCH_ROWS = 2_000


@contextmanager
def open_dump(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    """Yield (CSV file name, text stream) for a ``.csv`` or a ``.zip`` with one CSV inside."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            yield path.name, fh
        return
    with zipfile.ZipFile(path) as archive:
        members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
        if len(members) != 1:
            raise ValueError(f"{path}: expected one .csv inside the zip, found {members or 'none'}")
        with archive.open(members[0]) as raw:
            yield Path(members[0]).name, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def _batch(reader: Iterator[list[str]], size: int) -> list[list[str]]:
    rows = []
    for row in reader:
        if row:
            rows.append(row)
            if len(rows) >= size:
                break
    return rows


def dump_symbol(path: Path) -> str | None:
    """The symbol a dump's name (or its CSV member's name) carries, e.g. ``BTCUSD_PERP``; None when neither does."""
    path = Path(path)
    symbol, _ = dump_name_info(path.name)
    if symbol is None and path.suffix.lower() == ".zip" and path.exists():
        with open_dump(path) as (name, _text):
            symbol, _ = dump_name_info(name)
    return symbol


async def replay_trades(path: Path, symbol: str | None = None, speed: float = 0.0,
                        market: str | None = None) -> AsyncIterator[Record]:
    """Trades of a dump in file order; ``speed`` 0 = as fast as possible, 1 = recorded pace, 10 = 10× faster.

    The symbol comes from the file name (``BTCUSDT-trades-2025-01-01.csv``) unless given; the market from the
    layout, header and symbol (:func:`detect_dump_market`) unless given. Rows that do not parse come out as
    Reject; invalidated aggTrades rows (price 0, first = last = -1) are skipped.
    """
    if speed < 0:
        raise ValueError(f"replay speed must be >= 0, got {speed}")
    with open_dump(Path(path)) as (name, text):
        name_symbol, kind = dump_name_info(name)
        if name_symbol is None:
            name_symbol, kind = dump_name_info(Path(path).name)
        symbol = (symbol or name_symbol or "").upper()
        if not symbol:
            raise ValueError(f"{path}: cannot tell the symbol from the file name; pass it (--replay-symbol)")
        reader = csv.reader(text)
        fmt: DumpFormat | None = None
        header: list[str] | None = None
        pace = _Pace(speed)
        first = True
        while rows := await asyncio.to_thread(_batch, reader, BATCH_ROWS):
            for fields in rows:
                if first and is_header(fields):
                    fmt = detect_dump_format(fields, kind, header=True)
                    header, first = fields, False
                    continue
                first = False
                fmt = fmt or detect_dump_format(fields, kind)
                if fmt is None:
                    yield Reject(VENUE, f"{VENUE}: dump row has {len(fields)} columns; not a trades/aggTrades "
                                 "layout", ",".join(fields))
                    continue
                market = market or detect_dump_market(fmt, symbol, header)
                record = parse_dump_row(fields, fmt, symbol, market)
                if record is None:
                    continue
                if isinstance(record, Trade) and speed > 0:
                    await pace.wait(record.trade_time)
                    record = replace(record, ingest_time=now_us())
                yield record
            await asyncio.sleep(0)  # let other tasks run between batches at full speed


class _Pace:
    """Sleeps so that trade time advances ``speed`` times faster than wall time from the first trade."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.start_trade: int | None = None
        self.start_wall = 0.0

    async def wait(self, trade_time_us: int) -> None:
        if self.start_trade is None:
            self.start_trade, self.start_wall = trade_time_us, time.monotonic()
            return
        due = self.start_wall + (trade_time_us - self.start_trade) / 1e6 / self.speed
        delay = due - time.monotonic()
        if delay > 0.001:
            await asyncio.sleep(delay)
