"""The venue interface: what the live loop (``argos_ingest.feed``) needs from an exchange market.

A venue module states its facts as data and parses its payloads into ``argos.contract`` records; the loop
around it (connections, keep-alive, reconnects, gap detection, backfill, de-duplication) is shared. To add a
venue, implement :class:`VenueMarket` in ``venues/<name>.py`` and list it in ``venues/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from argos.contract import Reject, Trade
from argos_ingest.metrics import market_label


@dataclass(frozen=True, slots=True)
class Control:
    """A frame that is not market data: a subscribe ack, a server error, or a request to reconnect."""

    kind: Literal["ack", "error", "shutdown"]
    detail: str


Parsed = Trade | Reject | Control


@dataclass(frozen=True, slots=True)
class AppPing:
    """An application-level keep-alive the client must send (OKX: ``ping``; Bybit: ``{"op":"ping"}``)."""

    message: str
    interval_seconds: float


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """One REST call that returns trades of a symbol from a trade id on."""

    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class VenueMarket(Protocol):
    """One market of one venue, bound to its endpoints; the live loop runs one per market."""

    @property
    def venue(self) -> str: ...  # the contract's ``venue``, e.g. "binance"

    @property
    def market(self) -> str: ...  # the contract's ``market``, e.g. "spot"

    @property
    def max_symbols_per_connection(self) -> int: ...

    @property
    def consecutive_ids(self) -> bool:
        """True when trade ids are consecutive per symbol, so a skipped id is a gap to backfill."""
        ...

    @property
    def backfill_limit(self) -> int: ...  # most trades one backfill request returns

    def stream_url(self, symbols: Sequence[str]) -> str:
        """The WebSocket URL for these symbols."""
        ...

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """Frames to send once connected (empty when the URL already names the streams)."""
        ...

    def stream_name(self, symbol: str) -> str:
        """The venue's name of a symbol's trade stream (for logs and alarms)."""
        ...

    def parse(self, frame: str | bytes) -> Parsed | list[Parsed]:
        """One frame → a Trade, a Reject naming what was wrong, or a Control frame (or a list of them, when the
        venue batches trades in one frame); never raises."""
        ...

    def backfill_request(self, symbol: str, from_id: int, limit: int) -> BackfillRequest:
        """The REST call for up to ``limit`` trades of ``symbol`` starting at ``from_id``."""
        ...

    def parse_backfill(self, row: Any, symbol: str) -> Trade | Reject:
        """One row of a backfill response → a Trade or a Reject."""
        ...


# Optional parts of a venue market (Binance needs none of them); the live loop reads them through these.


def app_ping(venue: VenueMarket) -> AppPing | None:
    """The venue's application-level ping, if it needs one (attribute ``app_ping``)."""
    return getattr(venue, "app_ping", None)


def first_id(venue: VenueMarket, trade: Trade) -> int:
    """The first consecutive id a record covers (``first_id(trade)`` where a venue aggregates fills)."""
    method = getattr(venue, "first_id", None)
    return method(trade) if method is not None else trade.trade_id


def backfill_rows(venue: VenueMarket, payload: Any) -> list[Any] | None:
    """The rows of a backfill response (``backfill_rows(payload)`` where a venue wraps them), None on error."""
    method = getattr(venue, "backfill_rows", None)
    if method is not None:
        return method(payload)
    return payload if isinstance(payload, list) else None


def rest_weight_per_minute(venue: VenueMarket) -> int:
    """REST weight one IP may spend a minute on the market's host (attribute ``rest_weight_per_minute``; where a
    venue does not say, 6,000, Binance spot's, with every request costing 25)."""
    return getattr(venue, "rest_weight_per_minute", 6_000)


def venue_symbols(venue: VenueMarket, default: Sequence[str]) -> list[str]:
    """The symbols a market streams: its own (attribute ``symbols``) or the settings' list."""
    return list(getattr(venue, "symbols", ()) or default)


def metric_label(venue: VenueMarket) -> str:
    """The ``market`` label of a venue's metrics: Binance keeps its bare market names, the others are
    prefixed with the venue (``okx:swap``) so one process streaming several venues keeps them apart."""
    return market_label(venue.venue, venue.market)
