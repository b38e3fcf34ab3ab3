"""The one trade contract shared by every venue adapter, sink and the Spark job.

Wire format v2 is one JSON object per record (orjson). Prices, quantities and contract sizes travel as
decimal *strings* so no float ever touches them; times are integer microseconds since the Unix epoch.

    {"v": 2, "venue": "binance", "market": "coinm", "symbol": "BTCUSD_PERP", "trade_id": 123,
     "price": "97000.1", "qty": "12", "is_buyer_maker": false,
     "trade_time": 1764080000123456, "event_time": 1764080000123999, "ingest_time": 1764080000125000,
     "base": "BTC", "quote_asset": "USD", "kind": "perpetual", "contract_size": "100", "inverse": true,
     "first_trade_id": 900, "last_trade_id": 902, "trade_count": 3}

- ``symbol`` stays the venue's native name; ``base``/``quote_asset`` are the normalized assets.
- ``kind``: ``spot`` | ``perpetual`` | ``future`` (dated delivery contract).
- ``contract_size`` None: ``qty`` is in base units. Otherwise ``qty`` counts contracts; a *linear* contract is
  worth ``contract_size`` base units, an *inverse* one (``inverse``: Binance coin-M) ``contract_size`` units of
  the QUOTE asset (100 USD for BTCUSD_PERP), so its notional is ``qty × contract_size``, not ``price × qty``.
- ``first_trade_id``/``last_trade_id``: the exchange trades an aggregated record covers (Binance aggTrade);
  ``trade_count`` is how many exchange trades it stands for (``last - first + 1``; 1 for a plain trade).

Wire v1 (no fields after ``ingest_time``) is still accepted: the assets come from the symbol, the kind from the
market, and ``trade_count`` is 1. A payload the ingest could not turn into a trade is still forwarded, wrapped
as a *reject*, so the ETL files it in ``dead_letters`` with the raw text and the reason instead of losing it:

    {"v": 2, "reject": "binance: field 'p' is not a decimal", "venue": "binance", "raw": "<frame>"}
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import orjson

WIRE_VERSION = 2
WIRE_VERSIONS: tuple[int, ...] = (1, 2)
Market = Literal["spot", "usdm", "coinm", "swap", "linear"]
MARKETS: tuple[str, ...] = ("spot", "usdm", "coinm", "swap", "linear")  # swap: OKX, linear: Bybit
Kind = Literal["spot", "perpetual", "future"]
KINDS: tuple[str, ...] = ("spot", "perpetual", "future")

# Quote assets recognised at the end of a symbol (longest match wins: FDUSD before USD, USDT before USDT…).
QUOTE_ASSETS: tuple[str, ...] = tuple(sorted((
    "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USDP", "DAI", "USD", "USDS", "PAX", "UST", "AEUR", "EURI", "EUR",
    "BTC", "ETH", "BNB", "XRP", "DOGE", "DOT", "TRX", "SOL", "TRY", "BRL", "JPY", "GBP", "AUD", "RUB", "UAH",
    "NGN", "ZAR", "PLN", "RON", "ARS", "MXN", "COP", "IDR", "IDRT", "BIDR", "BKRW", "BVND", "GYEN", "VAI", "CZK",
), key=len, reverse=True))
_DATED_OR_PERP = re.compile(r"_(PERP|\d{6})$")


def now_us() -> int:
    """Wall-clock time in integer microseconds."""
    return time.time_ns() // 1_000


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BTCUSDT`` → (BTC, USDT); ``BTCUSD_PERP`` / ``ETHUSD_210924`` → (BTC, USD) / (ETH, USD).

    Raises ``ValueError`` when no known quote asset ends the symbol (venues that know better pass the assets).
    """
    pair = _DATED_OR_PERP.sub("", symbol.upper()).replace("-", "").replace("/", "")
    for quote in QUOTE_ASSETS:
        if pair.endswith(quote) and len(pair) > len(quote):
            return pair[: -len(quote)], quote
    raise ValueError(f"cannot tell the quote asset of symbol {symbol!r}")


@dataclass(frozen=True, slots=True)
class Trade:
    """One executed trade (or one aggregate of trades at one price), normalized across venues.

    The v2 fields have defaults so v1-style constructors keep working: empty ``base``/``quote_asset`` are
    taken from the symbol, an empty ``kind`` is ``spot`` on a spot market and ``perpetual`` otherwise.
    """

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
    base: str = ""
    quote_asset: str = ""
    kind: str = ""
    contract_size: str | None = None
    inverse: bool = False
    first_trade_id: int | None = None
    last_trade_id: int | None = None
    trade_count: int = 1

    def __post_init__(self) -> None:
        if not self.base or not self.quote_asset:
            base, quote = split_symbol(self.symbol)
            object.__setattr__(self, "base", self.base or base)
            object.__setattr__(self, "quote_asset", self.quote_asset or quote)
        if not self.kind:
            dated = re.search(r"_[0-9]{6}$", self.symbol) is not None  # BTCUSDT_210924: a delivery contract
            object.__setattr__(self, "kind", "spot" if self.market == "spot" else "future" if dated else "perpetual")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.inverse and self.contract_size is None:
            raise ValueError("an inverse contract needs its contract_size")
        if self.trade_count < 1:
            raise ValueError(f"trade_count must be >= 1, got {self.trade_count}")

    @property
    def side(self) -> str:
        """The taker's side: a buyer-maker trade was hit by an aggressive seller."""
        return "sell" if self.is_buyer_maker else "buy"

    @property
    def quote(self) -> Decimal:
        """Notional in the quote asset, exact: ``qty × contract_size`` (inverse) or ``price × qty × size``."""
        size = Decimal(self.contract_size) if self.contract_size is not None else Decimal(1)
        if self.inverse:
            return Decimal(self.qty) * size
        return Decimal(self.price) * Decimal(self.qty) * size

    @property
    def base_qty(self) -> Decimal:
        """Quantity in base units: ``qty × contract_size`` (linear) or notional / price (inverse)."""
        if self.inverse:
            return self.quote / Decimal(self.price)
        return Decimal(self.qty) * (Decimal(self.contract_size) if self.contract_size is not None else 1)

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


_TRADE_PREFIX = b'{"v":%d,' % WIRE_VERSION


def encode(record: Record) -> bytes:
    """Serialize a trade or a reject to wire format v2."""
    if isinstance(record, Trade):  # orjson writes the dataclass itself: 13x faster than dumps(asdict(...))
        return _TRADE_PREFIX + orjson.dumps(record)[1:]
    return orjson.dumps({"v": WIRE_VERSION, "reject": record.reason, "venue": record.venue, "raw": record.raw})


def decode_trade(payload: bytes | str) -> Trade:
    """Parse a wire-format v1 or v2 trade (used by tests and tools; the ETL parses in Spark)."""
    record = orjson.loads(payload)
    if record.get("v") not in WIRE_VERSIONS:
        raise ValueError(f"unsupported wire version {record.get('v')!r} (accepted: {WIRE_VERSIONS})")
    record.pop("v")
    return Trade(**record)
