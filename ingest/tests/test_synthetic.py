import asyncio
import random
import statistics
from collections import defaultdict
from decimal import Decimal

from argos_ingest.synthetic import BurstyArrivals, SyntheticMarket, synthetic_trades

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"]


def _batch(seed: int, n: int = 20_000):
    return SyntheticMarket(SYMBOLS, seed=seed).trades(n, 1_764_000_000_000_000, 1_764_000_600_000_000)


def test_seeded_runs_are_identical_and_seeds_differ():
    a, b, c = _batch(7, 2000), _batch(7, 2000), _batch(8, 2000)
    strip = lambda ts: [(t.symbol, t.trade_id, t.price, t.qty, t.is_buyer_maker, t.trade_time) for t in ts]  # noqa: E731
    assert strip(a) == strip(b) and strip(a) != strip(c)


def test_ids_consecutive_per_symbol_and_times_ordered():
    trades = _batch(1)
    ids = defaultdict(list)
    for t in trades:
        ids[t.symbol].append(t.trade_id)
    assert set(ids) == set(SYMBOLS)
    for seq in ids.values():
        assert seq == list(range(seq[0], seq[0] + len(seq)))
    times = [t.trade_time for t in trades]
    assert times == sorted(times)


def test_sizes_heavy_tailed_with_whales():
    quotes = [float(t.quote) for t in _batch(2)]
    median = statistics.median(quotes)
    assert max(quotes) > 100 * median  # heavy tail, not a bell curve
    whales = sum(q >= 10_000 for q in quotes)
    assert 0.001 < whales / len(quotes) < 0.05


def test_prices_positive_and_on_tick():
    for t in _batch(3, 5000):
        assert Decimal(t.price) > 0 and Decimal(t.qty) > 0
        assert len(t.price.split(".")[1]) in (2, 4, 5, 6)


def test_arrivals_are_bursty_around_the_rate():
    arrivals = BurstyArrivals(random.Random(4))
    counts = [arrivals.count(rate=1000, seconds=0.05) for _ in range(4000)]
    mean = statistics.mean(counts)
    assert 40 < mean < 65  # about rate x tick
    assert statistics.pvariance(counts) > 5 * mean  # over-dispersed: bursts, not a flat Poisson


def test_paced_stream_delivers_its_limit():
    async def collect():
        return [t async for t in synthetic_trades(["BTCUSDT", "ETHUSDT"], rate=5000, seed=5, limit=500)]

    trades = asyncio.run(collect())
    assert len(trades) == 500 and {t.symbol for t in trades} == {"BTCUSDT", "ETHUSDT"}
