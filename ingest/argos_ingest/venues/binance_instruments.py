"""Binance instruments: what a symbol of each market (spot, USD-M, coin-M) trades, as contract v2 fields.

Facts (Binance documentation and support pages; checked 2026-11):

- Spot and USD-M symbols concatenate base and quote (``BTCUSDT``, ``XRPETH``); USD-M dated (quarterly)
  contracts add the delivery date (``BTCUSDT_210924``). USD-M contracts are linear: one contract is one unit
  of the base asset ("Contract Unit"), so ``qty`` is in base units.
  https://www.binance.com/en/support/faq/usd%E2%93%A2-margined-futures-contract-specifications-360033161972
- Coin-M (``dapi``) symbols are ``<BASE>USD_PERP`` (perpetual) or ``<BASE>USD_<YYMMDD>`` (quarterly); they are
  inverse: ``qty`` counts contracts, each worth a fixed number of USD — "The contract multiplier for BTC
  coin-margined contracts is 100 USD. Meanwhile, altcoin contracts have a multiplier of 10 USD."
  https://www.binance.com/en/support/faq/a4470430e3164c13932be8967961aede
  (``GET /dapi/v1/exchangeInfo`` carries it per symbol as ``contractSize``; the table below is what the
  replay and the live feed use without calling it.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from argos.contract import split_symbol

# Coin-M contract multiplier in USD, by base asset; every other base is 10 USD.
COINM_CONTRACT_SIZE_USD: dict[str, str] = {"BTC": "100"}
COINM_DEFAULT_CONTRACT_SIZE_USD = "10"
# BTCUSDT, BTCUSDT_210924 (USD-M quarterly), BTCUSD_PERP / ETHUSD_210924 (coin-M).
SYMBOL = re.compile(r"^[A-Z0-9]{2,20}(_(PERP|[0-9]{6}))?$")
_COINM = re.compile(r"^(?P<base>[A-Z0-9]{1,16})USD_(?P<expiry>PERP|[0-9]{6})$")
_DATED = re.compile(r"_[0-9]{6}$")


@dataclass(frozen=True, slots=True)
class BinanceInstrument:
    """The contract v2 instrument fields of one Binance symbol on one market."""

    base: str
    quote_asset: str
    kind: str
    contract_size: str | None = None
    inverse: bool = False


@lru_cache(maxsize=4096)
def instrument(symbol: str, market: str) -> BinanceInstrument:
    """``("BTCUSD_PERP", "coinm")`` → BTC/USD perpetual, 100 USD contracts, inverse.

    Raises ``ValueError`` for a symbol that does not belong to the market (the parsers reject the record).
    """
    if not SYMBOL.match(symbol):
        raise ValueError(f"symbol {symbol!r} is not a Binance symbol like BTCUSDT or BTCUSD_PERP")
    if market == "coinm":
        match = _COINM.match(symbol)
        if not match:
            raise ValueError(f"coin-M symbol {symbol!r} is not <BASE>USD_PERP or <BASE>USD_<YYMMDD>")
        base = match["base"]
        kind = "perpetual" if match["expiry"] == "PERP" else "future"
        size = COINM_CONTRACT_SIZE_USD.get(base, COINM_DEFAULT_CONTRACT_SIZE_USD)
        return BinanceInstrument(base, "USD", kind, size, inverse=True)
    if symbol.endswith("_PERP"):
        raise ValueError(f"{symbol!r} is a coin-M symbol; use market coinm")
    base, quote = split_symbol(symbol)
    if market == "spot":
        if "_" in symbol:
            raise ValueError(f"{symbol!r} is a futures symbol, not spot")
        return BinanceInstrument(base, quote, "spot")
    if market == "usdm":
        return BinanceInstrument(base, quote, "future" if _DATED.search(symbol) else "perpetual")
    raise ValueError(f"unknown Binance market {market!r}; use spot, usdm or coinm")


def market_of_symbol(symbol: str) -> str | None:
    """The market a symbol's shape implies (``_PERP`` / ``USD_<date>`` → coinm), or None when ambiguous."""
    if _COINM.match(symbol):
        return "coinm"
    if _DATED.search(symbol):
        return "usdm"
    return None
