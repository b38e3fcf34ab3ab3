"""The live loop's guarantees against the fake exchange: backfills off the live path, resume with a horizon,
id resets re-seeded, one REST budget and pause per host and process, connection attempts limited."""

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
from argos_ingest.feed import ConnectGate, FeedTuning, live_trades
from argos_ingest.metrics import IngestMetrics
from argos_ingest.rest import RestGate, RestGates, get_json_list
from argos_ingest.sequencer import Sequencer
from argos_ingest.venues import venue_markets
from argos_ingest.venues.base import rest_weight_per_minute
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


def sequencer_without_rest() -> tuple[Sequencer, list[int], IngestMetrics]:
    """A BTCUSDT spot sequencer whose backfills get nothing, the ids it emits, and its metrics."""
    emitted: list[int] = []

    async def emit(record) -> None:
        emitted.append(record.trade_id)

    async def no_rest(request):
        return []

    metrics = IngestMetrics()
    venue = venue_markets(IngestSettings(symbols=["BTCUSDT"]))[0]
    return Sequencer(venue, emit, no_rest, metrics, missing_window=100), emitted, metrics


def btc_trade(trade_id: int, t: int) -> Trade:
    base = 1_780_000_000_000_000
    return Trade(venue="binance", market="spot", symbol="BTCUSDT", trade_id=trade_id, price="1", qty="1",
                 is_buyer_maker=False, trade_time=base + t, event_time=base + t, ingest_time=base + t)


def test_an_id_reset_is_logged_counted_and_reseeded(caplog):
    sequencer, emitted, metrics = sequencer_without_rest()

    async def run():
        for k, trade_id in enumerate([5_000_000, 5_000_001, 1, 2, 3, 4]):
            await sequencer.accept(btc_trade(trade_id, k))
        await sequencer.accept(btc_trade(3, 1))  # an old copy of a re-seeded id is still a duplicate

    asyncio.run(run())
    assert emitted == [5_000_000, 5_000_001, 1, 2, 3, 4]
    assert metrics.value("argos_ingest_id_resets_total") == 1
    assert metrics.value("argos_ingest_duplicates_total") == 1
    assert "trade ids reset" in caplog.text


def test_a_late_copy_of_an_id_rest_could_not_get_is_emitted_and_counted():
    sequencer, emitted, metrics = sequencer_without_rest()

    async def run():
        for trade_id in (5, 10):  # 6..9 missing, and REST returns nothing
            await sequencer.accept(btc_trade(trade_id, trade_id))
        await asyncio.sleep(0.1)  # the backfill task gives up
        await sequencer.accept(btc_trade(7, 7))  # late on the stream after all
        await sequencer.accept(btc_trade(7, 7))  # and once more: a duplicate

    asyncio.run(run())
    assert emitted == [5, 10, 7]
    assert metrics.value("argos_ingest_unrecoverable_trades_total") == 4
    assert metrics.value("argos_ingest_late_trades_total") == 1
    assert metrics.value("argos_ingest_duplicates_total") == 1


@contextlib.asynccontextmanager
async def rest_server(status: int, retry_after: str):
    """A REST host that answers its first request with ``status`` and ``Retry-After``, then lists; yields (url,
    the times requests reached it)."""
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return web.json_response({"code": -1003, "msg": "slow down"}, status=status,
                                     headers={"Retry-After": retry_after})
        return web.json_response([{"ok": len(calls)}])

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/", calls
    finally:
        await runner.cleanup()


REST_KW = dict(attempts=3, timeout=5, backoff_initial=0.01, backoff_max=0.1, max_retry_after=10)


@pytest.mark.parametrize("status", [418, 429])
def test_a_429_or_418_pauses_every_rest_request_to_the_host(status):
    """A 418 ban, and a 429's Retry-After (sending on would earn the ban), hold back every market's requests."""

    async def run():
        async with rest_server(status, "2") as (url, calls), aiohttp.ClientSession() as http:
            gate = RestGate()
            first = asyncio.create_task(get_json_list(http, url, {}, gate=gate, **REST_KW))  # gets the 418/429
            await asyncio.sleep(0.3)
            t0 = time.monotonic()
            second = await get_json_list(http, url, {}, gate=gate, **REST_KW)  # another market, same host
            return await first, second, time.monotonic() - t0, calls

    first, second, waited, calls = asyncio.run(run())
    assert first and second
    assert len(calls) == 3 and calls[1] - calls[0] >= 1.9, "nothing reached the venue during the pause"
    assert waited >= 1.5


def test_a_pause_longer_than_the_caller_waits_fails_without_sending():
    """A day's ban (Retry-After beyond max_retry_after) is not cut short: the request gives up unsent, and so does
    every later one until the ban ends; a backfill then counts its ids missing and the live stream goes on."""

    async def run():
        async with rest_server(418, "86400") as (url, calls), aiohttp.ClientSession() as http:
            gate = RestGate()
            t0 = time.monotonic()
            first = await get_json_list(http, url, {}, gate=gate, **REST_KW)
            second = await get_json_list(http, url, {}, gate=gate, **REST_KW)
            return first, second, time.monotonic() - t0, calls, gate.paused_until - time.monotonic()

    first, second, took, calls, left = asyncio.run(run())
    assert first is None and second is None and len(calls) == 1 and took < 1
    assert left > 86_000, "the whole ban is kept, not the 600 s a request waits at most"


def test_each_rest_host_has_its_own_budget_and_pauses():
    gates = RestGates()
    spot = gates.of("https://api.binance.com/api/v3/historicalTrades", 6_000)
    usdm = gates.of("https://fapi.binance.com/fapi/v1/aggTrades", 2_400)
    assert gates.of("https://api.binance.com/api/v3/aggTrades", 6_000) is spot and usdm is not spot
    assert (spot.weight_per_minute, usdm.weight_per_minute) == (6_000, 2_400)
    markets = {v.market: v for v in venue_markets(IngestSettings(symbols=["BTCUSDT"], markets=["spot", "usdm"]))}
    assert [rest_weight_per_minute(markets[m]) for m in ("spot", "usdm")] == [6_000, 2_400]


def test_connection_attempts_are_limited_per_host():
    async def run() -> list[float]:
        gate, times = ConnectGate(limit=3, window=0.5), []
        for _ in range(5):
            await gate.admit("wss://stream.binance.com:9443/stream?streams=x")
            times.append(time.monotonic())
        await gate.admit("wss://fstream.binance.com/market/stream")  # another host: its own window
        times.append(time.monotonic())
        return times

    t = asyncio.run(run())
    assert t[2] - t[0] < 0.1 and t[3] - t[0] >= 0.45 and t[4] - t[1] >= 0.45
    assert t[5] - t[4] < 0.1


def test_a_server_that_closes_at_once_is_redialled_within_the_attempt_limit():
    """OKX subscribes after connecting: a close before the subscribe is sent is a failed connect (the feed lives
    on), and a server that keeps doing it is dialled no more often than the attempt limit allows."""
    from websockets.asyncio.server import serve

    opened: list[float] = []

    async def close_at_once(ws) -> None:
        opened.append(time.monotonic())
        await ws.close()

    async def run() -> None:
        async with serve(close_at_once, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            settings = IngestSettings(venues=["okx"], symbols=["BTCUSDT"], okx_ws_url=f"ws://127.0.0.1:{port}")
            tuning = FeedTuning(backoff_initial=0.01, backoff_max=0.02, connects_per_5min=4)
            with contextlib.suppress(TimeoutError):
                await collect(settings, IngestMetrics(), lambda got: False, tuning, limit=2)

    asyncio.run(run())  # a crash of the feed would raise here
    assert len(opened) == 4, opened
