"""The live feed against the local fake Binance: faults in, contiguous duplicate-free ids out."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from argos.contract import Record, Reject, Trade
from argos.settings import IngestSettings
from argos_ingest.feed import FeedTuning
from argos_ingest.metrics import IngestMetrics
from argos_ingest.rest import backoff_delay
from argos_testkit import FakeBinance, Fault
from argos_testkit.feed_runs import drain

FAST = FeedTuning(backoff_initial=0.05, backoff_max=0.5, overlap_seconds=0.3, silence_alarm_seconds=30,
                  silence_check_seconds=0.1)
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def ids_by_symbol(records: list[Record]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in records:
        if isinstance(r, Trade):
            out.setdefault(r.symbol, []).append(r.trade_id)
    return out


def assert_contiguous(ids: dict[str, list[int]]) -> None:
    for symbol, seq in ids.items():
        assert len(seq) == len(set(seq)), f"{symbol}: duplicate ids"
        assert seq == list(range(seq[0], seq[-1] + 1)), f"{symbol}: ids not contiguous"


def caught_up(fake: FakeBinance, symbols: list[str]) -> Callable[[list[Record]], bool]:
    """True once every fault fired and each symbol reached the id the fake had when the last one fired."""
    target: dict[str, int] = {}

    def done(records: list[Record]) -> bool:
        if fake.faults:
            return False
        if not target:
            target.update({s: fake.last_id(s) + 5 for s in symbols})
        last = {s: seq[-1] for s, seq in ids_by_symbol(records).items()}
        return all(last.get(s, 0) >= target[s] for s in symbols)

    return done


@pytest.mark.timeout(60)
def test_spot_feed_survives_faults_with_contiguous_ids() -> None:
    faults = [
        Fault("skip", after=60, symbol="BTCUSDT", count=20),
        Fault("garbage", after=100, frame="{not json"),
        Fault("garbage", after=110, frame='{"e":"trade","s":"BTCUSDT","t":"x"}'),
        Fault("oversized", after=180),
        Fault("shutdown", after=280, close_after=0.3),
        Fault("drop", after=420),
        Fault("rate_limit", after=425, retry_after=1),
        Fault("skip", after=520, count=5),
        Fault("close", after=650),
    ]

    async def run() -> tuple[list[Record], IngestMetrics, FakeBinance]:
        async with FakeBinance("spot", SYMBOLS, rate=300, faults=faults, ping_interval=0.2) as fake:
            settings = IngestSettings(symbols=SYMBOLS, markets=["spot"], **fake.settings_fields())
            metrics = IngestMetrics()
            records = await drain(settings, metrics, FAST, caught_up(fake, SYMBOLS))
            return records, metrics, fake

    records, metrics, fake = asyncio.run(run())
    ids = ids_by_symbol(records)
    assert set(ids) == set(SYMBOLS)
    assert_contiguous(ids)
    rejects = [r for r in records if isinstance(r, Reject)]
    assert any(r.raw == "{not json" and "JSON" in r.reason for r in rejects)
    assert any("'t'" in r.reason for r in rejects)
    assert any("1009" in r.reason for r in rejects)
    assert metrics.value("argos_ingest_reconnects_total", market="spot", reason="drop") >= 2  # drop + oversized
    assert metrics.value("argos_ingest_reconnects_total", market="spot", reason="shutdown") == 1
    assert metrics.value("argos_ingest_reconnects_total", market="spot", reason="closed") >= 1
    assert metrics.value("argos_ingest_gaps_total", market="spot") >= 2
    assert metrics.value("argos_ingest_backfilled_trades_total", symbol="BTCUSDT") >= 20
    assert metrics.value("argos_ingest_rate_limited_total", market="spot") >= 1  # + backfills in flight then
    assert fake.banned == 0, "nothing may be sent on during a 429's Retry-After"
    assert metrics.value("argos_ingest_backfill_failures_total") == 0
    assert metrics.value("argos_ingest_rejects_total", market="spot") == len(rejects)
    assert fake.rate_limited == 1 + fake.violations
    assert fake.pongs >= 1, "the client must answer server pings"
    # one combined connection per market carries every symbol, with µs timestamps requested
    assert all("streams=btcusdt@trade/ethusdt@trade/solusdt@trade" in p for p in fake.connection_paths)
    assert all(p.startswith("/stream?") and "timeUnit=MICROSECOND" in p for p in fake.connection_paths)
    ws_trades = [r for r in records if isinstance(r, Trade) and r.event_time != r.trade_time]
    assert any(t.trade_time % 1000 for t in ws_trades)
    rest_trades = [r for r in records if isinstance(r, Trade) and r.event_time == r.trade_time]  # REST has no E
    assert rest_trades and any(t.trade_time % 1000 for t in rest_trades), "spot backfills ask for µs too"


@pytest.mark.timeout(60)
def test_scheduled_rotation_is_make_before_break_and_deduplicated() -> None:
    async def run() -> tuple[list[Record], IngestMetrics, FakeBinance]:
        async with FakeBinance("spot", SYMBOLS[:2], rate=200, ping_interval=0.5) as fake:
            settings = IngestSettings(symbols=SYMBOLS[:2], markets=["spot"], reconnect_after_seconds=0.6,
                                      **fake.settings_fields())
            metrics = IngestMetrics()
            start = time.monotonic()
            records = await drain(settings, metrics, FAST, lambda _: time.monotonic() - start > 2.5)
            return records, metrics, fake

    records, metrics, fake = asyncio.run(run())
    assert_contiguous(ids_by_symbol(records))
    assert metrics.value("argos_ingest_reconnects_total", reason="scheduled") >= 2
    assert fake.connections_total >= 3
    assert metrics.value("argos_ingest_duplicates_total") > 0, "the overlap delivered copies that were dropped"
    assert metrics.value("argos_ingest_gaps_total") == 0, "make-before-break leaves no gap to backfill"


@pytest.mark.timeout(60)
def test_usdm_agg_trades_on_market_path_with_gap_backfill() -> None:
    symbols = ["BTCUSDT", "ETHUSDT"]
    faults = [Fault("skip", after=40, count=30), Fault("drop", after=120), Fault("rate_limit", after=121)]

    async def run() -> tuple[list[Record], IngestMetrics, FakeBinance]:
        async with FakeBinance("usdm", symbols, rate=200, faults=faults, ping_interval=0.3) as fake:
            settings = IngestSettings(symbols=symbols, markets=["usdm"], **fake.settings_fields())
            metrics = IngestMetrics()
            records = await drain(settings, metrics, FAST, caught_up(fake, symbols))
            return records, metrics, fake

    records, metrics, fake = asyncio.run(run())
    assert_contiguous(ids_by_symbol(records))
    assert {r.market for r in records if isinstance(r, Trade)} == {"usdm"}
    assert metrics.value("argos_ingest_backfilled_trades_total", market="usdm") >= 60
    assert all(p.startswith("/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade") for p in fake.connection_paths)


@pytest.mark.timeout(30)
def test_coinm_agg_trades_with_gap_backfill_are_inverse_contracts() -> None:
    symbols = ["BTCUSD_PERP", "ETHUSD_PERP"]
    faults = [Fault("skip", after=40, count=30)]

    async def run() -> list[Record]:
        async with FakeBinance("coinm", symbols, rate=200, faults=faults, ping_interval=0.3) as fake:
            settings = IngestSettings(symbols=symbols, markets=["coinm"], **fake.settings_fields())
            return await drain(settings, IngestMetrics(), FAST, caught_up(fake, symbols))

    records = asyncio.run(run())
    assert_contiguous(ids_by_symbol(records))
    trades = [r for r in records if isinstance(r, Trade)]
    assert {(t.market, t.inverse, t.quote_asset) for t in trades} == {("coinm", True, "USD")}
    assert {t.symbol: t.contract_size for t in trades} == {"BTCUSD_PERP": "100", "ETHUSD_PERP": "10"}


def test_silent_usdm_path_raises_alarm(caplog: pytest.LogCaptureFixture) -> None:
    """The old USD-M ``/stream`` path accepts the subscription and delivers nothing: alarm, do not hang quietly."""
    tuning = FeedTuning(silence_alarm_seconds=0.4, silence_check_seconds=0.1)

    async def run() -> IngestMetrics:
        async with FakeBinance("usdm", ["BTCUSDT"], rate=200) as fake:
            settings = IngestSettings(symbols=["BTCUSDT"], markets=["usdm"],
                                      **fake.settings_fields(silent_path=True))
            metrics = IngestMetrics()
            with pytest.raises(TimeoutError):
                await drain(settings, metrics, tuning, lambda _: True, limit=1.2)
            assert fake.connection_paths[0].startswith("/stream?streams=btcusdt@aggTrade")
            return metrics

    with caplog.at_level(logging.WARNING, logger="argos_ingest.feed"):
        metrics = asyncio.run(run())
    assert metrics.value("argos_ingest_silent_stream_alarms_total", market="usdm", symbol="BTCUSDT") == 1
    assert metrics.value("argos_ingest_stream_silent", market="usdm", symbol="BTCUSDT") == 1
    assert any("silent" in m for m in caplog.messages)


@pytest.mark.timeout(30)
def test_unreachable_exchange_keeps_retrying_without_crashing(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = IngestSettings(symbols=["BTCUSDT"], binance_ws_url=f"ws://127.0.0.1:{port}")

    async def run() -> None:
        with pytest.raises(TimeoutError):
            await drain(settings, IngestMetrics(), FAST, lambda _: True, limit=1.0)

    with caplog.at_level(logging.WARNING, logger="argos_ingest.feed"):
        asyncio.run(run())
    assert sum("connect failed" in m for m in caplog.messages) >= 3


def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    assert backoff_delay(0, 1, 60, rng=lambda: 1.0) == 1
    assert backoff_delay(3, 1, 60, rng=lambda: 1.0) == 8
    assert backoff_delay(3, 1, 60, rng=lambda: 0.0) == 4
    assert backoff_delay(20, 1, 60, rng=lambda: 1.0) == 60
    assert backoff_delay(5_000, 1, 60, rng=lambda: 1.0) == 60  # ~14 h of failed reconnects: no OverflowError


@pytest.mark.timeout(30)
def test_fake_rest_pages_by_from_id_and_validates() -> None:
    async def run() -> dict[str, Any]:
        async with FakeBinance("spot", ["BTCUSDT"], rate=500) as fake:
            while fake.last_id("BTCUSDT") < 1050:
                await asyncio.sleep(0.02)
            async with aiohttp.ClientSession(fake.rest_url) as http:
                async with http.get("/api/v3/historicalTrades",
                                    params={"symbol": "BTCUSDT", "fromId": "1010", "limit": "5"}) as r:
                    trades = await r.json()
                async with http.get("/api/v3/aggTrades", params={"symbol": "BTCUSDT", "fromId": "1010"}) as r:
                    aggs = await r.json()
                async with http.get("/api/v3/historicalTrades", params={"symbol": "BTCUSDT", "limit": "1001"}) as r:
                    too_many = (r.status, await r.json())
                async with http.get("/api/v3/historicalTrades", params={"symbol": "NOPE"}) as r:
                    unknown = (r.status, await r.json())
            return {"trades": trades, "aggs": aggs, "too_many": too_many, "unknown": unknown}

    out = asyncio.run(run())
    assert [t["id"] for t in out["trades"]] == [1010, 1011, 1012, 1013, 1014]
    assert set(out["trades"][0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
    assert out["aggs"][0]["a"] == 1010 and "M" in out["aggs"][0]
    assert out["too_many"][0] == 400 and out["too_many"][1]["code"] == -1130
    assert out["unknown"] == (400, {"code": -1121, "msg": "Invalid symbol."})


@pytest.mark.timeout(60)
def test_unfillable_gap_is_counted_and_the_feed_goes_on() -> None:
    """REST keeps answering 429: the gap is reported (metric + log), ids stay increasing, streaming continues."""
    faults = [Fault("skip", after=40, symbol="BTCUSDT", count=10)] + [
        Fault("rate_limit", after=40, retry_after=0) for _ in range(3)
    ]
    tuning = FeedTuning(backoff_initial=0.01, rest_attempts=3, overlap_seconds=0.1)

    async def run() -> tuple[list[Record], IngestMetrics]:
        async with FakeBinance("spot", ["BTCUSDT"], rate=200, faults=faults) as fake:
            settings = IngestSettings(symbols=["BTCUSDT"], **fake.settings_fields())
            metrics = IngestMetrics()
            records = await drain(settings, metrics, tuning, caught_up(fake, ["BTCUSDT"]))
            return records, metrics

    records, metrics = asyncio.run(run())
    ids = ids_by_symbol(records)["BTCUSDT"]
    assert ids == sorted(set(ids))
    assert len(ids) == ids[-1] - ids[0] + 1 - 10
    assert metrics.value("argos_ingest_backfill_failures_total", symbol="BTCUSDT") == 1
    assert metrics.value("argos_ingest_rate_limited_total") == 3
