"""The live loop's guarantees against the fake exchange: backfills off the live path, resume with a horizon,
id resets re-seeded, and one REST budget/ban per process."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

import aiohttp
import pytest
from aiohttp import web

from argos.contract import Record, Trade
from argos.settings import IngestSettings
from argos_ingest.feed import FeedTuning, live_trades
from argos_ingest.metrics import IngestMetrics
from argos_ingest.rest import RestGate, get_json_list
from argos_ingest.sequencer import Sequencer
from argos_ingest.venues import venue_markets
from argos_testkit import FakeBinance, Fault

FAST = FeedTuning(backoff_initial=0.05, backoff_max=0.5, overlap_seconds=0.3, silence_check_seconds=0.1)


async def collect(settings: IngestSettings, metrics: IngestMetrics, until, tuning: FeedTuning = FAST,
                  seeds=None, limit: float = 40) -> list[tuple[float, Record]]:
    got: list[tuple[float, Record]] = []

    async def consume() -> None:
        async with contextlib.aclosing(live_trades(settings, metrics, tuning, seeds=seeds)) as feed:
            async for record in feed:
                got.append((time.monotonic(), record))
                if until(got):
                    return

    await asyncio.wait_for(consume(), limit)
    return got


def trades_of(got: list[tuple[float, Record]], symbol: str) -> list[tuple[float, Trade]]:
    return [(t, r) for t, r in got if isinstance(r, Trade) and r.symbol == symbol]


@pytest.mark.timeout(90)
def test_a_slow_backfill_does_not_hold_the_other_symbols():
    """BTCUSDT's backfill meets three 429s with Retry-After: 2 (6 s); ETHUSDT keeps streaming meanwhile."""
    faults = [Fault("skip", after=60, symbol="BTCUSDT", count=20)] + [
        Fault("rate_limit", after=60, retry_after=2) for _ in range(3)]

    async def run():
        async with FakeBinance("spot", ["BTCUSDT", "ETHUSDT"], rate=200, faults=faults) as fake:
            settings = IngestSettings(symbols=["BTCUSDT", "ETHUSDT"], **fake.settings_fields())
            metrics = IngestMetrics()
            target: dict[str, int] = {}

            def done(got) -> bool:
                if fake.faults:
                    return False
                target.setdefault("BTCUSDT", fake.last_id("BTCUSDT") + 5)
                btc = trades_of(got, "BTCUSDT")
                return metrics.value("argos_ingest_backfilled_trades_total") >= 20 and bool(btc) and \
                    btc[-1][1].trade_id >= target["BTCUSDT"]

            return await collect(settings, metrics, done), metrics

    got, metrics = asyncio.run(run())
    btc = [r.trade_id for _, r in trades_of(got, "BTCUSDT")]
    assert btc == list(range(btc[0], btc[-1] + 1)), "BTCUSDT ids contiguous after its backfill"
    eth_times = [got[0][0]] + [t for t, _ in trades_of(got, "ETHUSDT")] + [got[-1][0]]  # pauses at the ends too
    stall = max(b - a for a, b in itertools.pairwise(eth_times))
    print(f"slow backfill: {metrics.value('argos_ingest_rate_limited_total'):.0f} x 429; longest ETHUSDT pause "
          f"{stall:.2f}s while BTCUSDT backfilled {metrics.value('argos_ingest_backfilled_trades_total'):.0f}")
    assert metrics.value("argos_ingest_rate_limited_total") == 3
    assert stall < 1.5, f"ETHUSDT waited {stall:.1f}s behind BTCUSDT's backfill"


@pytest.mark.timeout(60)
def test_resume_backfills_up_to_the_horizon_and_counts_the_rest():
    async def run():
        async with FakeBinance("spot", ["BTCUSDT"], rate=300) as fake:
            await asyncio.sleep(2)  # ~600 trades happen "while the ingest is down"
            stored = fake.last_id("BTCUSDT") - 500
            settings = IngestSettings(symbols=["BTCUSDT"], backfill_horizon=200, **fake.settings_fields())
            metrics = IngestMetrics()
            got = await collect(settings, metrics, lambda g: len(trades_of(g, "BTCUSDT")) > 300,
                                seeds={("binance", "spot", "BTCUSDT"): stored})
            return got, metrics, stored

    got, metrics, stored = asyncio.run(run())
    ids = [r.trade_id for _, r in trades_of(got, "BTCUSDT")]
    lost = metrics.value("argos_ingest_unrecoverable_trades_total")
    print(f"resume: stored up to {stored}; first id emitted {ids[0]}; {lost:.0f} beyond the horizon")
    assert ids == list(range(ids[0], ids[-1] + 1))
    assert ids[0] == stored + 1 + lost and lost == ids[0] - stored - 1 > 0
    assert metrics.value("argos_ingest_backfilled_trades_total") == 200


def test_an_id_reset_is_logged_counted_and_reseeded(caplog):
    venue = venue_markets(IngestSettings(symbols=["BTCUSDT"]))[0]
    emitted: list[int] = []

    async def emit(record) -> None:
        emitted.append(record.trade_id)

    async def no_rest(url, params):
        return []

    metrics = IngestMetrics()
    sequencer = Sequencer(venue, emit, no_rest, metrics, missing_window=100)
    base = 1_780_000_000_000_000

    def trade(trade_id: int, t: int) -> Trade:
        return Trade(venue="binance", market="spot", symbol="BTCUSDT", trade_id=trade_id, price="1", qty="1",
                     is_buyer_maker=False, trade_time=base + t, event_time=base + t, ingest_time=base + t)

    async def run():
        for k, trade_id in enumerate([5_000_000, 5_000_001, 1, 2, 3, 4]):
            await sequencer.accept(trade(trade_id, k))
        await sequencer.accept(trade(3, 1))  # an old copy of a re-seeded id is still a duplicate

    asyncio.run(run())
    assert emitted == [5_000_000, 5_000_001, 1, 2, 3, 4]
    assert metrics.value("argos_ingest_id_resets_total") == 1
    assert metrics.value("argos_ingest_duplicates_total") == 1
    assert "trade ids reset" in caplog.text


def test_a_418_ban_pauses_every_rest_request_of_the_process():
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return web.json_response({"code": -1003, "msg": "banned"}, status=418, headers={"Retry-After": "2"})
        return web.json_response([{"ok": len(calls)}])

    async def run():
        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"
        gate = RestGate()
        try:
            async with aiohttp.ClientSession() as http:
                kw = dict(attempts=3, timeout=5, backoff_initial=0.01, backoff_max=0.1, max_retry_after=10, gate=gate)
                first = asyncio.create_task(get_json_list(http, url, {}, **kw))  # gets the 418
                await asyncio.sleep(0.3)
                t0 = time.monotonic()
                second = await get_json_list(http, url, {}, **kw)  # another market, same IP
                return await first, second, time.monotonic() - t0
        finally:
            await runner.cleanup()

    first, second, waited = asyncio.run(run())
    assert first and second
    assert len(calls) == 3 and calls[1] - calls[0] >= 1.9, "nothing reached the venue during the ban"
    assert waited >= 1.5
