"""Venue adapters: each module holds one exchange's facts and parsers behind :class:`VenueMarket`."""

from __future__ import annotations

from argos.settings import IngestSettings
from argos_ingest.venues.base import BackfillRequest, Control, Parsed, VenueMarket
from argos_ingest.venues.binance import BinanceMarket

__all__ = ["BackfillRequest", "Control", "Parsed", "VenueMarket", "venue_markets"]


def venue_markets(settings: IngestSettings) -> list[VenueMarket]:
    """The markets the live feed streams, one connection loop each."""
    return [BinanceMarket.from_settings(settings, market) for market in settings.markets]
