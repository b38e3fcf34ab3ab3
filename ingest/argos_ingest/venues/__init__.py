"""Venue adapters: each module holds one exchange's facts and parsers behind :class:`VenueMarket`.

The registry turns settings into the markets the live loop streams: ``ingest.venues`` (or just Binance for
``source=binance``), each venue's markets among ``ingest.markets`` (spot when it has none of them), and each
market's symbols from ``ingest.symbols``: a pair such as ``BTCUSDT`` in the venue's own spelling, or a
``venue:SYMBOL`` entry for that venue only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argos.settings import VENUES, IngestSettings
from argos_ingest.venues.base import BackfillRequest, Control, Parsed, VenueMarket
from argos_ingest.venues.binance import BinanceMarket
from argos_ingest.venues.bybit import BybitMarket
from argos_ingest.venues.coinbase import CoinbaseMarket
from argos_ingest.venues.okx import OkxMarket

__all__ = ["VENUES", "BackfillRequest", "Control", "Parsed", "VenueMarket", "live_venues", "venue_markets"]

MARKETS_BY_VENUE: dict[str, tuple[str, ...]] = {
    "binance": ("spot", "usdm", "coinm"), "coinbase": ("spot",), "okx": ("spot", "swap"), "bybit": ("spot", "linear"),
}


@dataclass(frozen=True)
class WithSymbols:
    """A venue market with its own symbol list, for markets that do not carry one (Binance)."""

    inner: Any
    symbols: tuple[str, ...]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _binance(settings: IngestSettings, market: str, symbols: tuple[str, ...]) -> VenueMarket:
    return WithSymbols(BinanceMarket.from_settings(settings, market), symbols)


def _coinbase(settings: IngestSettings, market: str, symbols: tuple[str, ...]) -> VenueMarket:
    return CoinbaseMarket(settings.coinbase_ws_url, settings.coinbase_rest_url, symbols)


def _okx(settings: IngestSettings, market: str, symbols: tuple[str, ...]) -> VenueMarket:
    return OkxMarket(market, settings.okx_ws_url, settings.okx_rest_url, symbols)  # type: ignore[arg-type]


def _bybit(settings: IngestSettings, market: str, symbols: tuple[str, ...]) -> VenueMarket:
    return BybitMarket(market, f"{settings.bybit_ws_url.rstrip('/')}/{market}", settings.bybit_rest_url,  # type: ignore[arg-type]
                       symbols)


BUILDERS: dict[str, Callable[[IngestSettings, str, tuple[str, ...]], VenueMarket]] = {
    "binance": _binance, "coinbase": _coinbase, "okx": _okx, "bybit": _bybit,
}


def live_venues(settings: IngestSettings) -> list[str]:
    """The venues a live source streams."""
    return ["binance"] if settings.source == "binance" else list(settings.venues)


def markets_of(settings: IngestSettings, venue: str) -> list[str]:
    """The venue's markets among ``ingest.markets`` (plain or ``venue:market``); spot when none apply."""
    chosen = []
    for entry in settings.markets:
        owner, _, market = entry.rpartition(":")
        if owner and owner != venue:
            continue
        if market in MARKETS_BY_VENUE[venue]:
            chosen.append(market)
        elif owner:
            raise ValueError(f"{venue} has no market {market!r}; it has {', '.join(MARKETS_BY_VENUE[venue])}")
    return list(dict.fromkeys(chosen)) or ["spot"]


def symbols_of(settings: IngestSettings, venue: str, market: VenueMarket) -> tuple[str, ...]:
    """The market's native symbols: every plain pair in the venue's spelling plus this venue's own entries,
    kept when they name an instrument of this market (``BTC-USDT-SWAP`` is not on OKX spot)."""
    out = []
    for entry in settings.symbols:
        owner, _, symbol = entry.rpartition(":")
        if owner and owner != venue:
            continue
        if venue == "binance":
            out.append(symbol)
            continue
        native = market.native_symbol(symbol)
        if market.instrument(native).market == market.market:
            out.append(native)
    return tuple(dict.fromkeys(out))


def venue_markets(settings: IngestSettings) -> list[VenueMarket]:
    """The markets the live feed streams, one connection loop each (markets without a symbol are left out)."""
    markets = []
    for venue in live_venues(settings):
        for market in markets_of(settings, venue):
            probe = BUILDERS[venue](settings, market, ())
            symbols = symbols_of(settings, venue, probe)
            if symbols:
                markets.append(BUILDERS[venue](settings, market, symbols))
    if not markets:
        raise ValueError(f"no symbol of {settings.symbols} applies to {', '.join(live_venues(settings))}. "
                         "Fix: set ingest.symbols to pairs like BTCUSDT or entries like okx:BTC-USDT-SWAP")
    return markets
