"""The synthetic market spread over several venues, so the multi-venue panels have something true to show.

One synthetic market per pair (``argos_ingest.synthetic``) sets the price; each of its trades lands on one venue
(by a fixed volume share), spelled in that venue's symbol, priced at the venue's small basis to the reference,
with consecutive trade ids per venue and symbol and the venue's instrument fields filled in.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from argos.contract import Trade, now_us
from argos_ingest.synthetic import BurstyArrivals, SyntheticMarket
from argos_ingest.venues.bybit import bybit_symbol
from argos_ingest.venues.bybit import instrument as bybit_instrument
from argos_ingest.venues.coinbase import instrument as coinbase_instrument
from argos_ingest.venues.coinbase import product_id
from argos_ingest.venues.instruments import Instrument, make_trade, split_pair
from argos_ingest.venues.okx import inst_id
from argos_ingest.venues.okx import instrument as okx_instrument

# Rough volume shares and price basis (basis points to the reference) of the venues in the demo.
VENUE_SHARE = {"binance": 0.40, "bybit": 0.25, "okx": 0.20, "coinbase": 0.15}
VENUE_BASIS_BPS = {"binance": 0.0, "bybit": 1.5, "okx": -1.0, "coinbase": 3.0}


def spot_instrument(venue: str, pair: str) -> Instrument:
    """The venue's spot instrument for a pair (Coinbase quotes USDT pairs in USD)."""
    if venue == "coinbase":
        return coinbase_instrument(product_id(pair))
    if venue == "okx":
        return okx_instrument(inst_id(pair, "spot"))
    if venue == "bybit":
        return bybit_instrument(bybit_symbol(pair), "spot")
    base, quote = split_pair(pair)
    return Instrument("binance", "spot", f"{base}{quote}", base, quote, "spot")


class VenueSpread:
    """Re-homes reference trades onto venues."""

    def __init__(self, venues: Sequence[str], pairs: Sequence[str], rng: random.Random) -> None:
        self.venues = list(venues)
        self.weights = [VENUE_SHARE.get(v, 0.1) for v in self.venues]
        self.instruments = {(v, p): spot_instrument(v, p) for v in self.venues for p in pairs}
        self.next_id = {key: 1_000_000 + rng.randrange(1_000_000) for key in self.instruments}
        self.rng = rng

    def assign(self, trade: Trade) -> Trade:
        venue = self.rng.choices(self.venues, self.weights)[0]
        key = (venue, trade.symbol)
        self.next_id[key] += 1
        price = Decimal(trade.price)
        adjusted = (price * (1 + Decimal(VENUE_BASIS_BPS.get(venue, 0.0)) / 10_000)).quantize(price)
        return make_trade(self.instruments[key], self.next_id[key], str(adjusted), trade.qty, trade.is_buyer_maker,
                          trade.trade_time, trade.event_time)


async def multi_venue_trades(pairs: list[str], venues: list[str], rate: float, seed: int | None = None,
                             whale_quote: float = 10_000, tick_seconds: float = 0.05,
                             limit: int | None = None) -> AsyncIterator[Trade]:
    """Trades of ``pairs`` across ``venues`` at ``rate`` per second in total, paced by the wall clock."""
    market = SyntheticMarket(pairs, seed=seed, whale_quote=whale_quote)
    spread = VenueSpread(venues, pairs, market.rng)
    arrivals = BurstyArrivals(market.rng)
    sent, last = 0, time.monotonic()
    while limit is None or sent < limit:
        await asyncio.sleep(tick_seconds)
        now = time.monotonic()
        n = arrivals.count(rate, now - last)
        if limit is not None:
            n = min(n, limit - sent)
        t_end = now_us()
        for trade in market.trades(n, t_end - int((now - last) * 1e6), t_end):
            yield spread.assign(trade)
        sent += n
        last = now
