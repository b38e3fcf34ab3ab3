"""One normalized instrument per venue symbol: base, quote, kind and contract size, the native symbol kept.

``BTCUSDT`` on Binance and Bybit, ``BTC-USDT`` on OKX and ``BTC-USD`` on Coinbase are all base ``BTC``; the
dashboards compare venues by base asset and treat USD, USDT, USDC and FDUSD quotes as dollars. The
venue modules describe their own symbols (:meth:`instrument` of each market); this module holds the shared
type, the pair splitter, and the one constructor that writes a :class:`~argos.contract.Trade` with the
contract's instrument fields filled where the contract has them (wire contract v2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Literal

from argos.contract import Trade, now_us

Kind = Literal["spot", "perpetual", "future"]
# Quote assets recognised at the end of a concatenated symbol, longest first (FDUSD before USD).
QUOTES: tuple[str, ...] = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "TRY", "BTC", "ETH", "BNB")
USD_LIKE: frozenset[str] = frozenset({"USD", "USDT", "USDC", "FDUSD", "BUSD", "TUSD"})
_PAIR = re.compile(r"^([A-Z0-9]{1,20})[-/_]?([A-Z0-9]{1,20})$")
_TRADE_FIELDS = frozenset(f.name for f in fields(Trade))


@dataclass(frozen=True, slots=True)
class Instrument:
    """What a venue symbol trades: ``qty`` is in base units unless ``contract_size`` is set (then contracts,
    each worth ``contract_size`` of the base, or of the quote when ``inverse``)."""

    venue: str
    market: str
    symbol: str  # the venue's own spelling, as it travels on the wire
    base: str
    quote: str
    kind: Kind
    contract_size: str | None = None
    inverse: bool = False

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"


def split_pair(text: str) -> tuple[str, str]:
    """``BTCUSDT``, ``BTC-USDT``, ``btc/usdt`` → ``("BTC", "USDT")``; raises ``ValueError`` naming the input."""
    upper = text.strip().upper()
    match = _PAIR.match(upper)
    if match and match.group(2) and ("-" in upper or "/" in upper or "_" in upper):
        return match.group(1), match.group(2)
    for quote in QUOTES:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    raise ValueError(f"cannot tell base and quote in {text!r}; write it as BASE-QUOTE, e.g. BTC-USDT")


def make_trade(instrument: Instrument, trade_id: int, price: str, qty: str, is_buyer_maker: bool,
               trade_time: int, event_time: int, *, first_id: int | None = None, last_id: int | None = None,
               count: int = 1) -> Trade:
    """A contract trade for ``instrument``; the instrument and id-range fields go in where the contract has them."""
    extra = {
        "base": instrument.base, "quote_asset": instrument.quote, "kind": instrument.kind,
        "contract_size": instrument.contract_size, "inverse": instrument.inverse,
        "first_trade_id": first_id, "last_trade_id": last_id, "trade_count": count,
    }
    return Trade(venue=instrument.venue, market=instrument.market, symbol=instrument.symbol, trade_id=trade_id,
                 price=price, qty=qty, is_buyer_maker=is_buyer_maker, trade_time=trade_time, event_time=event_time,
                 ingest_time=now_us(), **{k: v for k, v in extra.items() if k in _TRADE_FIELDS})


def trade_count(trade: Trade) -> int:
    """How many exchange fills a record stands for (1 before contract v2 carried ``trade_count``)."""
    return int(getattr(trade, "trade_count", 1) or 1)
