"""Ingest metrics and the /metrics, /healthz, /readyz endpoints."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from argos.contract import Reject, Trade, now_us
from argos_ingest.metrics import IngestMetrics, serve_http


def trade(event_lag_us: int = 50_000) -> Trade:
    now = now_us()
    return Trade("binance", "spot", "BTCUSDT", 1, "1.0", "2.0", False, now - event_lag_us, now - event_lag_us, now)


def test_registries_are_independent_and_values_readable() -> None:
    a, b = IngestMetrics(), IngestMetrics()
    a.observe(trade(), "spot")
    a.observe(trade(), "spot")
    a.observe(Reject("binance", "binance: bad", "x"), "spot")
    a.reconnects.labels("spot", "drop").inc()
    assert a.value("argos_ingest_messages_total", market="spot", symbol="BTCUSDT") == 2
    assert a.value("argos_ingest_rejects_total") == 1
    assert a.value("argos_ingest_reconnects_total", reason="drop") == 1
    assert a.value("argos_ingest_lag_seconds_count", market="spot") == 2
    assert 0.09 < a.value("argos_ingest_lag_seconds_sum") < 1.0
    assert b.value("argos_ingest_messages_total") == 0


def test_receiving_needs_a_connection_and_a_recent_message() -> None:
    metrics = IngestMetrics()
    assert not metrics.receiving()
    metrics.connection_opened("spot")
    assert not metrics.receiving()
    metrics.observe(trade(), "spot")
    assert metrics.receiving(within_seconds=5)
    assert not metrics.receiving(within_seconds=-1)
    metrics.connection_closed("spot")
    assert not metrics.receiving()


@pytest.mark.timeout(30)
def test_http_endpoints() -> None:
    metrics = IngestMetrics()
    state = {"ready": False}

    async def run() -> list[tuple[int, str]]:
        server = serve_http(0, metrics, lambda: state["ready"], host="127.0.0.1")
        results = []
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
                metrics.observe(trade(), "spot")
                for path in ("/healthz", "/readyz", "/metrics"):
                    async with http.get(path) as resp:
                        results.append((resp.status, await resp.text()))
                state["ready"] = True
                async with http.get("/readyz") as resp:
                    results.append((resp.status, await resp.text()))
                async with http.get("/nope") as resp:
                    results.append((resp.status, await resp.text()))
        finally:
            server.close()
        return results

    (health, not_ready, prom, ready, missing) = asyncio.run(run())
    assert missing[0] == 404
    assert health[0] == 200
    assert not_ready[0] == 503
    assert ready[0] == 200
    assert prom[0] == 200
    assert 'argos_ingest_messages_total{market="spot",symbol="BTCUSDT"} 1.0' in prom[1]
    assert "argos_ingest_lag_seconds_bucket" in prom[1]
