"""Replay the trade files Bybit and OKX publish (Coinbase publishes none), as a live-looking record stream.

* Bybit, https://public.bybit.com/trading/<SYMBOL>/<SYMBOL><YYYY-MM-DD>.csv.gz (linear), header
  ``timestamp,symbol,side,size,price,tickDirection,trdMatchID,...`` (epoch seconds with a fraction); the spot
  files under https://public.bybit.com/spot/ carry ``id,timestamp,price,volume,side`` (epoch ms) and no symbol,
  so it comes from the file name.
* OKX, https://www.okx.com/data-download (daily ``<instId>-trades-<date>.zip``), header
  ``instrument_name,trade_id,side,price,size,created_time`` (taker side, epoch ms).

The layouts are as those pages and sample files show them (not re-checked here). Files may be ``.csv``,
``.csv.gz`` or a ``.zip`` holding one CSV; they are streamed, never loaded whole. Bad rows become Rejects.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import re
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

from argos.contract import Record
from argos_ingest.venues import bybit, okx
from argos_ingest.venues.fields import reject

BATCH_ROWS = 2_000
_SYMBOL_IN_NAME = re.compile(r"^([A-Z0-9]+(?:-[A-Z0-9]+)*?)(?:-trades-|_?\d{4}-\d{2}-\d{2})")


@contextmanager
def open_text(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    """(CSV name, text stream) of a .csv, .csv.gz or single-CSV .zip."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                raise ValueError(f"{path}: expected one .csv inside the zip, found {members or 'none'}")
            with archive.open(members[0]) as raw:
                yield Path(members[0]).name, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        return
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as text:  # type: ignore[operator]
        yield path.name, text


def symbol_from_name(name: str) -> str | None:
    """``BTCUSDT2024-01-01.csv.gz`` → BTCUSDT; ``BTC-USDT-trades-2024-01-01.csv`` → BTC-USDT."""
    match = _SYMBOL_IN_NAME.match(Path(name).name.upper())
    return match.group(1) if match else None


def _batch(reader: Iterator[dict[str, str]], size: int) -> list[dict[str, str]]:
    return [row for _, row in zip(range(size), reader, strict=False)]


async def replay_venue_trades(path: Path, venue: str, market: str = "", symbol: str = "") -> AsyncIterator[Record]:
    """Every row of a Bybit or OKX trade file, in file order, as Trades (or Rejects)."""
    if venue not in ("bybit", "okx"):
        raise ValueError(f"no trade files to replay for {venue}; Argos replays Binance, Bybit and OKX files")
    with open_text(Path(path)) as (name, text):
        reader = csv.DictReader(text)
        fields = set(reader.fieldnames or [])
        name_symbol = symbol or symbol_from_name(name) or symbol_from_name(Path(path).name) or ""
        category = market or ("spot" if "volume" in fields else "linear")
        while rows := await asyncio.to_thread(_batch, reader, BATCH_ROWS):
            for row in rows:
                yield _parse(venue, row, category, name_symbol)


def _parse(venue: str, row: dict[str, str], category: str, symbol: str) -> Record:
    if venue == "okx":
        data = {"instId": row.get("instrument_name", symbol), "tradeId": row.get("trade_id"), "side": row.get("side"),
                "px": row.get("price"), "sz": row.get("size"), "ts": row.get("created_time")}
        return okx.parse_rest_trade({k: v for k, v in data.items() if v is not None}, data["instId"] or symbol)
    if "volume" in row:  # Bybit spot layout: no symbol column, epoch ms, lower-case side
        if not symbol:
            return reject("bybit", "spot file row without a symbol; name the file <SYMBOL>_<date>.csv.gz", row)
        row = {"timestamp": row.get("timestamp", ""), "symbol": symbol, "side": (row.get("side") or "").title(),
               "size": row.get("volume", ""), "price": row.get("price", ""), "trdMatchID": row.get("id", "")}
    return bybit.parse_dump_row(row, category)
