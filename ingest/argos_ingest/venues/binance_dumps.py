"""Binance public data dumps (data.binance.vision): every layout of trades and aggTrades, ms or µs.

Pure functions: detect a file's layout and market from its name, header and columns, and parse one CSV row
into a ``Trade`` (or a ``Reject`` naming the bad field). ``argos_ingest.replay`` streams files through them.

Layouts (https://github.com/binance/binance-public-data README; spot has no header row, futures files from
``data/futures/um`` and ``data/futures/cm`` carry one, though old futures files have none):

- spot trades ``id,price,qty,quote_qty,time,is_buyer_maker,is_best_match`` (7)
- spot aggTrades ``agg_trade_id,price,qty,first_trade_id,last_trade_id,transact_time,is_buyer_maker,
  is_best_match`` (8)
- USD-M trades ``id,price,qty,quote_qty,time,is_buyer_maker``; coin-M ``id,price,qty,base_qty,time,
  is_buyer_maker`` (6; coin-M ``qty`` counts contracts)
- futures aggTrades ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker`` (7)

A 7-column row is spot trades when column 5 is a boolean and futures aggTrades when it is a timestamp, so a
headerless futures aggTrades file parses too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from argos.contract import Reject, Trade
from argos_ingest.venues.binance import (
    _NONZERO,
    _Bad,
    _decimal,
    _flag,
    _int_id,
    _reject,
    _symbol,
    _time,
    _trade,
    _trade_range,
)
from argos_ingest.venues.binance_instruments import market_of_symbol


@dataclass(frozen=True, slots=True)
class DumpFormat:
    """Column layout of one dump kind; indices into the CSV row."""

    kind: Literal["trades", "aggTrades"]
    columns: int
    id_col: int
    price_col: int
    qty_col: int
    time_col: int
    maker_col: int
    first_col: int | None = None  # aggTrades: first/last trade id (invalidated rows have -1)
    last_col: int | None = None


SPOT_TRADES = DumpFormat("trades", 7, 0, 1, 2, 4, 5)  # id,price,qty,quote_qty,time,is_buyer_maker,is_best_match
USDM_TRADES = DumpFormat("trades", 6, 0, 1, 2, 4, 5)  # id,price,qty,quote_qty,time,is_buyer_maker
SPOT_AGG_TRADES = DumpFormat("aggTrades", 8, 0, 1, 2, 5, 6, 3, 4)  # agg_trade_id,price,qty,first,last,time,m,M
USDM_AGG_TRADES = DumpFormat("aggTrades", 7, 0, 1, 2, 5, 6, 3, 4)  # same without is_best_match

_DUMP_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]{2,20}(?:_(?:PERP|[0-9]{6}))?)-(?P<kind>trades|aggTrades)-")


def dump_name_info(filename: str) -> tuple[str | None, str | None]:
    """``BTCUSDT-aggTrades-2025-01-01.zip`` / ``BTCUSD_PERP-trades-2025-01.zip`` → (symbol, kind); else None."""
    match = _DUMP_NAME.match(filename)
    return (match["symbol"], match["kind"]) if match else (None, None)


def is_header(fields: Sequence[str]) -> bool:
    """USD-M dumps start with a header row (``agg_trade_id,price,quantity,...``); spot dumps do not."""
    return bool(fields) and not fields[0].strip().lstrip("-").isdigit() and "id" in fields[0].lower()


def detect_dump_format(fields: Sequence[str], kind: str | None = None, header: bool = False) -> DumpFormat | None:
    """Pick the layout from the column count, the header (first column name), the kind from the file name and,
    for a headerless 7-column row, its sixth column: a boolean (spot trades) or a timestamp (futures aggTrades).
    """
    n = len(fields)
    if header and fields:
        kind = "aggTrades" if "agg" in fields[0].lower() else "trades"
    if kind is None and n == 7:
        kind = "aggTrades" if fields[5].strip().isdigit() else "trades"
    if kind is None:
        kind = {6: "trades", 8: "aggTrades"}.get(n)
    if kind == "trades":
        return {7: SPOT_TRADES, 6: USDM_TRADES}.get(n)
    if kind == "aggTrades":
        return {8: SPOT_AGG_TRADES, 7: USDM_AGG_TRADES}.get(n)
    return None


def detect_dump_market(fmt: DumpFormat, symbol: str, header: Sequence[str] | None = None) -> str:
    """The market a dump comes from: spot layouts are spot; a futures layout is coin-M when the symbol is a
    coin-M one (``BTCUSD_PERP``, ``ETHUSD_210924``) or the header says ``base_qty``, USD-M otherwise."""
    if fmt in (SPOT_TRADES, SPOT_AGG_TRADES):
        return "spot"
    if market_of_symbol(symbol) == "coinm" or any(f.strip().lower() == "base_qty" for f in header or ()):
        return "coinm"
    return "usdm"


def parse_dump_row(fields: Sequence[str], fmt: DumpFormat, symbol: str, market: str = "spot",
                   raw: str | None = None) -> Trade | Reject | None:
    """One CSV row of a public data dump → Trade, Reject, or None for an invalidated aggTrades row.

    Spot trades (no header; µs from 2025-01-01, ms before)::

        5293614470,97000.01000000,0.01250000,1212.50012500,1735689600123456,True,True

    Coin-M trades (header; ``qty`` in contracts, ``base_qty`` = qty × contract size / price)::

        id,price,qty,base_qty,time,is_buyer_maker
        4312093,97010.1,25,0.02577050,1735689600123,true

    Spot aggTrades (no header)::

        2783152121,96950.10000000,0.01500000,6715240123,6715240125,1735689600123456,False,True

    USD-M aggTrades (header row, ms, no is_best_match)::

        agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker
        2783152121,96950.10,0.015,6715240123,6715240125,1735689600123,false

    Invalidated aggTrades rows (``price=0, qty=0, first=last=-1``) are skipped (None), as Binance intends.
    Dumps carry no event time: ``event_time`` is the trade time.
    """
    text = raw if raw is not None else ",".join(fields)
    if len(fields) != fmt.columns:
        return _reject(f"dump row has {len(fields)} columns, expected {fmt.columns} ({fmt.kind})", text)
    if fmt.first_col is not None and fmt.last_col is not None and _invalidated(fields, fmt):
        return None
    names = ("id", "price", "qty", "time", "is_buyer_maker")
    cols = (fmt.id_col, fmt.price_col, fmt.qty_col, fmt.time_col, fmt.maker_col)
    row = {name: fields[col].strip() for name, col in zip(names, cols, strict=True)}
    try:
        trade_range = None
        if fmt.first_col is not None and fmt.last_col is not None:
            ids = {"first_trade_id": fields[fmt.first_col].strip(), "last_trade_id": fields[fmt.last_col].strip()}
            trade_range = _trade_range(ids, "first_trade_id", "last_trade_id")
        trade_time = _time(row, "time")
        return _trade(market, _symbol(symbol, "symbol"), _int_id(row, "id"), _decimal(row, "price"),
                      _decimal(row, "qty"), _flag(row, "is_buyer_maker"), trade_time, trade_time, trade_range)
    except _Bad as exc:
        return _reject(f"dump {exc}", text)


def _invalidated(fields: Sequence[str], fmt: DumpFormat) -> bool:
    assert fmt.first_col is not None and fmt.last_col is not None
    return fields[fmt.first_col].strip() == "-1" and fields[fmt.last_col].strip() == "-1" and all(
        not _NONZERO.search(fields[c]) for c in (fmt.price_col, fmt.qty_col)
    )
