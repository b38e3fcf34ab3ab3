"""The one trade contract shared by every venue adapter, sink and the Spark job.

Wire format v1 is one JSON object per record (orjson). Prices and quantities travel as decimal
*strings* so no float ever touches them; times are integer microseconds since the Unix epoch.

    {"v": 1, "venue": "binance", "market": "spot", "symbol": "BTCUSDT", "trade_id": 123,
     "price": "97000.01", "qty": "0.0125", "is_buyer_maker": false,
     "trade_time": 1764080000123456, "event_time": 1764080000123999, "ingest_time": 1764080000125000}

A payload the ingest could not turn into a trade is still forwarded, wrapped as a *reject*, so the
ETL files it in ``dead_letters`` with the raw text and the reason instead of losing it:

    {"v": 1, "reject": "binance: field 'p' is not a decimal", "venue": "binance", "raw": "<frame>"}
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Literal

import orjson

WIRE_VERSION = 1
Market = Literal["spot", "usdm"]
MARKETS: tuple[str, ...] = ("spot", "usdm")


def now_us() -> int:
    """Wall-clock time in integer microseconds."""
    return time.time_ns() // 1_000


@dataclass(frozen=True, slots=True)
class Trade:
    """One executed trade, normalized across venues."""

    venue: str
    market: str
    symbol: str
    trade_id: int
    price: str
    qty: str
    is_buyer_maker: bool
    trade_time: int
    event_time: int
    ingest_time: int

    @property
    def side(self) -> str:
        """The taker's side: a buyer-maker trade was hit by an aggressive seller."""
        return "sell" if self.is_buyer_maker else "buy"

    @property
    def quote(self) -> Decimal:
        """Quote value (price × qty), exact."""
        return Decimal(self.price) * Decimal(self.qty)

    @property
    def key(self) -> bytes:
        """Partition key: one symbol of one venue stays ordered in its partition."""
        return f"{self.venue}:{self.symbol}".encode()


@dataclass(frozen=True, slots=True)
class Reject:
    """A payload a venue adapter could not turn into a trade; it travels on to the dead letters."""

    venue: str
    reason: str
    raw: str

    @property
    def key(self) -> bytes:
        return f"{self.venue}:reject".encode()


Record = Trade | Reject


def encode(record: Record) -> bytes:
    """Serialize a trade or a reject to wire format v1."""
    if isinstance(record, Trade):
        return orjson.dumps({"v": WIRE_VERSION, **asdict(record)})
    return orjson.dumps({"v": WIRE_VERSION, "reject": record.reason, "venue": record.venue, "raw": record.raw})


def decode_trade(payload: bytes | str) -> Trade:
    """Parse a wire-format v1 trade (used by tests and tools; the ETL parses in Spark)."""
    record = orjson.loads(payload)
    if record.get("v") != WIRE_VERSION:
        raise ValueError(f"unsupported wire version {record.get('v')!r}")
    record.pop("v")
    return Trade(**record)
