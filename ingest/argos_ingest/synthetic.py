"""A synthetic market for demos, tests and benchmarks: realistic enough to exercise every panel.

- bursty arrivals: a Poisson rate that jumps into short high-activity regimes;
- heavy-tailed sizes: log-normal bodies with a Pareto tail, plus rare whales (quote ≥ threshold);
- per-symbol geometric random walk priced on the symbol's tick, consecutive trade ids per symbol;
- taker side with momentum (runs of buys or sells), so order-flow delta and CVD have shape;
- seedable: the same seed gives the same trades (times aside, which follow the wall clock when paced).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from argos.contract import Trade, now_us

# Starting price and price decimals of well-known symbols; others start at 1.0 with 6 decimals.
_KNOWN = {
    "BTCUSDT": (97_000.0, 2), "ETHUSDT": (3_500.0, 2), "SOLUSDT": (180.0, 2), "BNBUSDT": (650.0, 2),
    "XRPUSDT": (2.2, 4), "DOGEUSDT": (0.35, 5), "ADAUSDT": (0.95, 4),
}
_QTY_DECIMALS = 5


@dataclass
class _SymbolState:
    symbol: str
    price: float
    decimals: int
    next_id: int
    momentum: float = 0.0


class SyntheticMarket:
    """Generates trades for several symbols; call :meth:`trades` for a batch at a given time."""

    def __init__(
        self, symbols: list[str], seed: int | None = None, whale_probability: float = 0.003,
        whale_quote: float = 10_000, market: str = "spot", id_offset: int = 0,
    ) -> None:
        """``id_offset`` moves every trade id, so several generators of one market never share an id."""
        self.rng = random.Random(seed)
        self.market = market
        self.whale_probability = whale_probability
        self.whale_quote = whale_quote
        self.states = [
            _SymbolState(s, *_KNOWN.get(s, (1.0, 6)), next_id=id_offset + 1_000_000 + self.rng.randrange(1_000_000))
            for s in symbols
        ]
        # Busier symbols first: arrival weights fall off like a Zipf law.
        self.weights = [1 / (i + 1) for i in range(len(symbols))]

    def trades(self, n: int, t_start_us: int, t_end_us: int) -> list[Trade]:
        """``n`` trades with trade times spread over [t_start_us, t_end_us), in time order."""
        rng = self.rng
        times = sorted(rng.randrange(t_start_us, max(t_end_us, t_start_us + 1)) for _ in range(n))
        picks = rng.choices(self.states, weights=self.weights, k=n)
        ingest = now_us()
        return [self._trade(state, t, ingest) for state, t in zip(picks, times, strict=True)]

    def _trade(self, s: _SymbolState, trade_time: int, ingest_time: int) -> Trade:
        rng = self.rng
        s.momentum = 0.9 * s.momentum + rng.gauss(0, 0.3)
        is_buy = rng.random() < 1 / (1 + math.exp(-s.momentum))
        s.price *= math.exp(rng.gauss(0.00002 if is_buy else -0.00002, 0.0004))
        notional = math.exp(rng.gauss(math.log(300), 1.4))
        if rng.random() < 0.02:  # Pareto tail
            notional *= rng.paretovariate(1.3)
        if rng.random() < self.whale_probability:
            notional = self.whale_quote * rng.uniform(1.0, 25.0)
        price = round(s.price, s.decimals)
        qty = max(round(notional / price, _QTY_DECIMALS), 10**-_QTY_DECIMALS)
        s.next_id += 1
        return Trade(
            venue="synthetic", market=self.market, symbol=s.symbol, trade_id=s.next_id,
            price=f"{price:.{s.decimals}f}", qty=f"{qty:.{_QTY_DECIMALS}f}", is_buyer_maker=not is_buy,
            trade_time=trade_time, event_time=trade_time + rng.randrange(200, 3_000), ingest_time=ingest_time,
        )

    def backlog(self, n: int, span_seconds: float = 3600, batch: int = 10_000) -> Iterator[Trade]:
        """``n`` trades spread over the last ``span_seconds`` (for benchmarks and fixtures)."""
        end = now_us()
        start = end - int(span_seconds * 1e6)
        step = (end - start) * batch // max(n, 1)
        made = 0
        while made < n:
            k = min(batch, n - made)
            lo = start + made * (end - start) // max(n, 1)
            yield from self.trades(k, lo, lo + step)
            made += k


class BurstyArrivals:
    """Trade counts per tick: Poisson around the rate, with short bursts of heavy activity."""

    def __init__(self, rng: random.Random, burst_probability: float = 0.02) -> None:
        self.rng, self.burst_probability, self.burst_left = rng, burst_probability, 0

    def count(self, rate: float, seconds: float) -> int:
        if self.burst_left <= 0 and self.rng.random() < self.burst_probability:
            self.burst_left = self.rng.randint(5, 40)  # ticks of heavy activity
        intensity = 2.0 if self.burst_left > 0 else 0.55  # averages to ~1
        self.burst_left -= 1
        return _poisson(self.rng, rate * seconds * intensity)


async def synthetic_trades(
    symbols: list[str], rate: float, seed: int | None = None, whale_quote: float = 10_000,
    tick_seconds: float = 0.05, limit: int | None = None,
) -> AsyncIterator[Trade]:
    """Trades at ``rate`` per second on average, paced by the wall clock, with bursts."""
    market = SyntheticMarket(symbols, seed=seed, whale_quote=whale_quote)
    arrivals = BurstyArrivals(market.rng)
    sent = 0
    last = time.monotonic()
    while limit is None or sent < limit:
        await asyncio.sleep(tick_seconds)
        now = time.monotonic()
        n = arrivals.count(rate, now - last)
        if limit is not None:
            n = min(n, limit - sent)
        t_end = now_us()
        for trade in market.trades(n, t_end - int((now - last) * 1e6), t_end):
            yield trade
        sent += n
        last = now


def _poisson(rng: random.Random, lam: float) -> int:
    """Poisson sample (normal approximation for large means)."""
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, p = math.exp(-lam), 0, rng.random()
    while p > threshold:
        k += 1
        p *= rng.random()
    return k
