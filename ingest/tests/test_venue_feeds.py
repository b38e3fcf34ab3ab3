"""The live feed against the local fake Coinbase, OKX and Bybit: faults in, the venue's guarantee out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from argos.contract import Record, Reject, Trade
from argos.settings import IngestSettings
from argos_ingest.feed import FeedTuning, live_trades
from argos_ingest.metrics import IngestMetrics
from argos_ingest.venues.fields import string_id
from argos_testkit.fake_bybit import FakeBybit
from argos_testkit.fake_coinbase import FakeCoinbase
from argos_testkit.fake_okx import FakeOkx
from argos_testkit.fake_venue import FakeVenue, VenueFault
from argos_testkit.feed_runs import drain as drain_feed

FAST = FeedTuning(backoff_initial=0.05, backoff_max=0.5, overlap_seconds=0.3, silence_alarm_seconds=30,
                  silence_check_seconds=0.1, app_ping_seconds=0.3)


async def drain(settings: IngestSettings, metrics: IngestMetrics, done: Callable[[list[Record]], bool],
                limit: float = 40.0) -> list[Record]:
    return await drain_feed(settings, metrics, FAST, done, limit)


def covered_ids(records: list[Record]) -> dict[str, list[int]]:
    """Per symbol, every exchange id the trades cover (an aggregated OKX record covers first..last)."""
    out: dict[str, list[int]] = {}
    for r in records:
        if isinstance(r, Trade):
            first = r.first_trade_id if r.first_trade_id is not None else r.trade_id
            out.setdefault(r.symbol, []).extend(range(first, r.trade_id + 1))
    return out


def caught_up(fake: FakeVenue, symbols: list[str]) -> Callable[[list[Record]], bool]:
    target: dict[str, int] = {}

    def done(records: list[Record]) -> bool:
        if fake.faults:
            return False
        if not target:
            target.update({s: fake.last_id(s) + 5 for s in symbols})
        last = {s: ids[-1] for s, ids in covered_ids(records).items()}
        return all(last.get(s, 0) >= target[s] for s in symbols)

    return done


def assert_contiguous(ids: dict[str, list[int]]) -> None:
    for symbol, seq in ids.items():
        assert len(seq) == len(set(seq)), f"{symbol}: duplicate ids"
        assert seq == list(range(seq[0], seq[-1] + 1)), f"{symbol}: ids not contiguous"


FAULTS = [
    VenueFault("skip", after=60, count=12),
    VenueFault("garbage", after=100, frame="{not json"),
    VenueFault("drop", after=200),
    VenueFault("rate_limit", after=201, retry_after=0),
    VenueFault("skip", after=400, count=7),
    VenueFault("shutdown", after=600, close_after=0.2),
    VenueFault("close", after=850),
]


@pytest.mark.timeout(60)
def test_coinbase_feed_backfills_gaps_and_survives_faults() -> None:
    symbols = ["BTC-USD", "ETH-USD"]

    async def run() -> tuple[list[Record], IngestMetrics, FakeCoinbase]:
        async with FakeCoinbase(symbols, rate=250, faults=list(FAULTS)) as fake:
            settings = IngestSettings(source="live", venues=["coinbase"], symbols=symbols, **fake.settings_fields())
            metrics = IngestMetrics()
            return await drain(settings, metrics, caught_up(fake, symbols)), metrics, fake

    records, metrics, fake = asyncio.run(run())
    ids = covered_ids(records)
    assert set(ids) == set(symbols)
    assert_contiguous(ids)
    assert any(isinstance(r, Reject) and r.raw == "{not json" for r in records)
    assert metrics.value("argos_ingest_backfilled_trades_total", market="coinbase:spot") >= 19
    assert metrics.value("argos_ingest_reconnects_total", market="coinbase:spot") >= 3
    assert metrics.value("argos_ingest_backfill_failures_total") == 0
    assert fake.rate_limited == 1 and fake.connections_total >= 4
    assert all(r["channels"] == ["matches"] for r in fake.subscribe_requests)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("market", ["spot", "swap"])
def test_okx_feed_covers_every_fill_through_aggregates_gaps_and_the_upgrade_notice(market: str) -> None:
    symbols = ["BTC-USDT", "ETH-USDT"] if market == "spot" else ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]

    async def run() -> tuple[list[Record], IngestMetrics, FakeOkx]:
        async with FakeOkx(symbols, rate=250, faults=list(FAULTS), idle_timeout=1.5) as fake:
            settings = IngestSettings(source="live", venues=["okx"], markets=[market], symbols=symbols,
                                      **fake.settings_fields())
            metrics = IngestMetrics()
            return await drain(settings, metrics, caught_up(fake, symbols)), metrics, fake

    records, metrics, fake = asyncio.run(run())
    ids = covered_ids(records)
    assert set(ids) == set(symbols)
    assert_contiguous(ids)
    trades = [r for r in records if isinstance(r, Trade)]
    assert any(t.trade_count > 1 for t in trades), "the fake aggregates fills of one order"
    assert {t.market for t in trades} == {market}
    assert metrics.value("argos_ingest_reconnects_total", market=f"okx:{market}", reason="shutdown") == 1
    assert metrics.value("argos_ingest_backfilled_trades_total", market=f"okx:{market}") >= 19
    assert fake.pings > 0 and fake.closed_idle == 0, "the client keeps the connection alive with 'ping'"


@pytest.mark.timeout(60)
def test_okx_closes_a_client_that_does_not_ping() -> None:
    """The fake enforces the 30 s idle cut (shrunk): without app pings the feed would be cut again and again."""
    tuning = FeedTuning(backoff_initial=0.05, app_ping_seconds=30)

    async def run() -> FakeOkx:
        async with FakeOkx(["BTC-USDT"], rate=0.0001, idle_timeout=0.5) as fake:
            settings = IngestSettings(source="live", venues=["okx"], symbols=["BTC-USDT"], **fake.settings_fields())
            with pytest.raises(TimeoutError):
                async with contextlib.aclosing(live_trades(settings, IngestMetrics(), tuning)) as feed:
                    await asyncio.wait_for(feed.__anext__(), 2.5)
            return fake

    fake = asyncio.run(run())
    assert fake.closed_idle >= 1 and fake.pings == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("market", ["spot", "linear"])
def test_bybit_feed_deduplicates_but_cannot_see_gaps(market: str) -> None:
    """Bybit ids are opaque: a withheld trade is lost to the stream and nothing can notice it (documented)."""
    symbols = ["BTCUSDT", "ETHUSDT"]
    faults = [VenueFault("skip", after=80, symbol="BTCUSDT", count=9), VenueFault("garbage", after=120),
              VenueFault("drop", after=200), VenueFault("close", after=600)]

    async def run() -> tuple[list[Record], IngestMetrics, FakeBybit]:
        async with FakeBybit(symbols, market=market, rate=250, faults=faults, idle_timeout=1.5) as fake:
            settings = IngestSettings(source="live", venues=["bybit"], markets=[market], symbols=symbols,
                                      **fake.settings_fields())
            metrics = IngestMetrics()
            sent = lambda: sum(len(ids) for ids in fake.delivered.values())  # noqa: E731
            done = lambda rs: (not fake.faults and fake.connections_total >= 3  # noqa: E731  (back after the close)
                               and sum(isinstance(r, Trade) for r in rs) >= sent() - 20)
            records = await drain(settings, metrics, done)
            await asyncio.sleep(0.3)
            return records, metrics, fake

    records, metrics, fake = asyncio.run(run())
    trades = [r for r in records if isinstance(r, Trade)]
    assert len({(t.symbol, t.trade_id) for t in trades}) == len(trades), "no duplicates"
    assert {t.market for t in trades} == {market}
    assert metrics.value("argos_ingest_gaps_total") == 0, "opaque ids: no gap is ever detected"
    assert metrics.value("argos_ingest_reconnects_total", market=f"bybit:{market}") >= 2
    assert any(isinstance(r, Reject) for r in records)
    assert fake.pings > 0 and fake.closed_idle == 0
    # Every trade received is one the fake sent; the 9 it withheld never arrive and nothing noticed.
    wire_id = {f.trade_id: string_id({"i": fake.trade_id(f)}, "i") for f in fake.history["BTCUSDT"]}
    received = {t.trade_id for t in trades if t.symbol == "BTCUSDT"}
    sent = {wire_id[i] for i in fake.delivered["BTCUSDT"]}
    assert received <= sent
    newest = max(i for i, wid in wire_id.items() if wid in received)
    withheld = {wire_id[i] for i in wire_id if i <= newest} - sent
    assert len(withheld) >= 9 and not withheld & received
