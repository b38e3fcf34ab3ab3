"""A seeded market (three symbols, about an hour, whales included) loaded into the embedded ClickHouse.

The trades are built here, not by the pipeline, so every panel can be checked against an independent
pandas computation from exactly the same rows. Quote, side and whale flag are derived the way the ETL
derives them (quote = price × qty; side = sell if the buyer is the maker; whale = quote ≥ 10,000).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from argos_dashboards.data import Selection
from argos_schema.migrate import migrate

DB = "argos_dashboards_test"  # its own database, so it can share an engine with other suites
WHALE_USD = Decimal(10_000)
SYMBOLS = {"BTCUSDT": (64_000.0, 0.02), "ETHUSDT": (3_100.0, 0.4), "SOLUSDT": (150.0, 8.0)}
TRADES_PER_SYMBOL = 1_500
# The same asset on the other venues, in their own spelling (fewer trades; whales included).
OTHER_VENUES = {"coinbase": ("BTC-USD", 64_010.0), "okx": ("BTC-USDT", 63_990.0), "bybit": ("BTCUSDT", 64_005.0)}
OTHER_VENUE_TRADES = 600
DEC = pa.decimal128(38, 18)
TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Market:
    """The fixture: trades as pandas (floats for reference maths) and the window they span."""

    trades: pd.DataFrame
    start: datetime
    end: datetime

    def selection(self, symbols: list[str] | None = None) -> Selection:
        return Selection(DB, self.start, self.end, {
            "market": ["spot"], "venue": ["binance"], "symbol": symbols or sorted(SYMBOLS),
            "venues": ["binance", *sorted(OTHER_VENUES)], "kind": ["spot"], "asset": ["BTC"]})


def _symbol_trades(rng: np.random.Generator, symbol: str, price0: float, qty_scale: float,
                   start: datetime, span_s: float, venue: str = "binance",
                   count: int = TRADES_PER_SYMBOL) -> list[dict[str, object]]:
    offsets = np.sort(rng.uniform(0, span_s, count))
    steps = rng.normal(0, 0.0006, count) + 0.00001
    prices = price0 * np.exp(np.cumsum(steps))
    # Heavy-tailed sizes: mostly small, a few percent of trades are whales.
    sizes = qty_scale * rng.lognormal(0.0, 1.0, count) * np.where(rng.random(count) < 0.03, 25.0, 1.0)
    taker_buys = rng.random(count) < np.where(steps > 0, 0.7, 0.3)
    rows = []
    for i in range(count):
        price = Decimal(f"{prices[i]:.2f}")
        qty = max(Decimal(f"{sizes[i]:.5f}"), Decimal("0.00001"))
        quote = price * qty
        is_buyer_maker = not bool(taker_buys[i])
        trade_time = start + timedelta(seconds=float(offsets[i]))
        event_time = trade_time + timedelta(milliseconds=float(rng.uniform(0, 5)))
        ingest_time = event_time + timedelta(milliseconds=float(rng.uniform(20, 200)))
        process_time = ingest_time + timedelta(milliseconds=float(rng.uniform(300, 1200)))
        insert_time = process_time + timedelta(milliseconds=float(rng.uniform(20, 80)))
        rows.append({
            "venue": venue, "market": "spot", "symbol": symbol, "trade_id": 1_000_000 + i,
            "price": price, "qty": qty, "quote": quote, "usd_rate": Decimal(1), "is_buyer_maker": is_buyer_maker,
            "side": "sell" if is_buyer_maker else "buy", "is_whale": quote >= WHALE_USD,
            "trade_time": trade_time, "event_time": event_time, "ingest_time": ingest_time,
            "process_time": process_time, "insert_time": insert_time,
        })
    return rows


def build_trades(start: datetime, span_s: float, seed: int = 7) -> pa.Table:
    """Seeded trades for every fixture symbol, as the Arrow table the ETL would insert."""
    rng = np.random.default_rng(seed)
    rows = [r for sym, (p0, q) in SYMBOLS.items() for r in _symbol_trades(rng, sym, p0, q, start, span_s)]
    rows += [r for venue, (sym, p0) in OTHER_VENUES.items()
             for r in _symbol_trades(rng, sym, p0, 0.02, start, span_s, venue, OTHER_VENUE_TRADES)]
    schema = pa.schema([
        ("venue", pa.string()), ("market", pa.string()), ("symbol", pa.string()), ("trade_id", pa.uint64()),
        ("price", DEC), ("qty", DEC), ("quote", DEC), ("usd_rate", DEC), ("is_buyer_maker", pa.bool_()),
        ("side", pa.string()),
        ("is_whale", pa.bool_()), ("trade_time", TS), ("event_time", TS), ("ingest_time", TS),
        ("process_time", TS), ("insert_time", TS),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def _dead_letters(start: datetime) -> pa.Table:
    reasons = ["unparsable JSON", "non-positive price", "unknown symbol format"]
    return pa.table({
        "process_time": pa.array([start + timedelta(minutes=5 * i) for i in range(6)], TS),
        "source": ["spool"] * 6,
        "reason": [reasons[i % 3] for i in range(6)],
        "raw": ['{"bad": true}'] * 6,
        "batch_id": pa.array(list(range(6)), pa.uint64()),
    })


@pytest.fixture(scope="session")
def client(chdb_session) -> Iterator[object]:
    """A clickhouse-connect client on the embedded engine with the Argos schema in ``DB``."""
    ch = chdb_session
    ch.command(f"DROP DATABASE IF EXISTS {DB}")
    migrate(ch, db=DB)
    yield ch


@pytest.fixture(scope="session")
def market(client) -> Market:
    """The seeded market, inserted once; the MVs fill themselves on insert."""
    now = datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=60)
    span_s = (now - start).total_seconds() - 2
    table = build_trades(start, span_s)
    client.insert_arrow(f"{DB}.trades", table)
    client.insert_arrow(f"{DB}.dead_letters", _dead_letters(start))
    frame = table.to_pandas()
    for col in ("price", "qty", "quote"):
        frame[col] = frame[col].astype(float)
    end = frame["trade_time"].max().to_pydatetime().replace(microsecond=0) + timedelta(seconds=1)
    return Market(frame, start, end)


@pytest.fixture(scope="session")
def query(client):
    """The query function the embedded page uses: SQL in, Arrow out."""
    return client.query_arrow
