"""Four venues at once, end to end: `argos ingest --venue binance,coinbase,okx,bybit` against the four local fake
exchanges (each misbehaving), spool -> Spark -> ClickHouse, spot plus an OKX swap and Bybit linear. Per venue,
market and symbol: 0 lost, 0 duplicated; the swap's contracts become the right notional."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from argos_testkit import FakeBinance, Fault
from argos_testkit.fake_bybit import FakeBybit
from argos_testkit.fake_coinbase import FakeCoinbase
from argos_testkit.fake_okx import FakeOkx
from argos_testkit.fake_venue import VenueFault
from argos_testkit.ports import free_port

BYBIT_SPOT_ID = 2_290_000_000_000_000_000  # the fake's spot ids: this plus its fill number
GARBAGE = "{this is not json"
LABELS = ('market="spot"', 'market="coinbase:spot"', 'market="okx:spot"', 'market="bybit:spot"',
          'market="okx:swap"', 'market="bybit:linear"')


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def alive(ingest: subprocess.Popen) -> None:
    """Fail with the ingest's own output when it has exited early."""
    if ingest.poll() is not None:
        raise AssertionError(f"argos ingest exited {ingest.returncode}:\n{ingest.stdout.read()[-3000:]}")


def streaming(port: int) -> bool:
    try:
        text = scrape(port)
    except OSError:
        return False
    return all(f"argos_ingest_messages_total{{{label}" in text for label in LABELS)


class Exchanges:
    """The four fakes on one event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.binance = FakeBinance("spot", ["BTCUSDT", "ETHUSDT"], rate=150, seed=1)
        self.coinbase = FakeCoinbase(["BTC-USD", "ETH-USD"], rate=100, seed=2)
        self.okx = FakeOkx(["BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP", "ETH-USDT-SWAP"], rate=140, seed=3,
                           fills_per_order=1)
        self.bybit = FakeBybit(["BTCUSDT", "ETHUSDT"], rate=100, seed=4)
        for fake in self.fakes:
            asyncio.run_coroutine_threadsafe(fake.start(), self.loop).result(10)

    @property
    def fakes(self) -> list:
        return [self.binance, self.coinbase, self.okx, self.bybit]

    def env(self) -> dict[str, str]:
        fields = {"binance_ws_url": self.binance.ws_url, "binance_rest_url": self.binance.rest_url,
                  **self.coinbase.settings_fields(), **self.okx.settings_fields(), **self.bybit.settings_fields()}
        return {f"ARGOS_INGEST__{k.upper()}": v for k, v in fields.items()}

    def inject(self, fake, fault) -> None:
        self.loop.call_soon_threadsafe(fake.inject, fault)

    def misbehave(self, step: int) -> None:
        """Faults once the ingest streams: first holes and garbage, then lost connections."""
        if step == 0:
            self.inject(self.binance, Fault("skip", count=15))
            self.inject(self.binance, Fault("garbage", frame=GARBAGE))
            self.inject(self.coinbase, VenueFault("skip", count=10))
            self.inject(self.coinbase, VenueFault("garbage", frame=GARBAGE))
            self.inject(self.okx, VenueFault("skip", count=10))
            self.inject(self.bybit, VenueFault("garbage", frame=GARBAGE))
        else:
            self.inject(self.binance, Fault("drop"))
            self.inject(self.coinbase, VenueFault("drop"))
            self.inject(self.okx, VenueFault("shutdown"))

    def pause(self) -> None:
        self.loop.call_soon_threadsafe(self.binance.pause)
        for fake in self.fakes[1:]:
            self.loop.call_soon_threadsafe(setattr, fake, "rate", 0.0)

    def stop(self) -> None:
        for fake in self.fakes:
            asyncio.run_coroutine_threadsafe(fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_four_venues_end_to_end_lose_and_duplicate_nothing(etl) -> None:
    exchanges = Exchanges()
    runner = etl(ARGOS_SPARK__SOURCE="spool")
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARGOS_")}, **exchanges.env(),
           "ARGOS_DATA_DIR": str(runner.data_dir), "ARGOS_INGEST__HTTP_PORT": str(port),
           "ARGOS_INGEST__MARKETS": "spot,okx:swap,bybit:linear"}  # one fake Bybit serves both categories
    try:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "argos", "ingest", "--venue", "binance,coinbase,okx,bybit", "--sink", "spool",
             "--symbols", "btcusdt,ethusdt", "--seconds", "20"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 15
        while not streaming(port):
            alive(ingest)
            assert time.monotonic() < deadline, "the ingest did not stream all four venues"
            time.sleep(0.3)
        exchanges.misbehave(0)
        time.sleep(2)
        exchanges.misbehave(1)
        time.sleep(3)
        alive(ingest)
        metrics = scrape(port)
        exchanges.pause()  # quiet before the ingest stops, so every trade sent is also received
        out, _ = ingest.communicate(timeout=60)
        assert ingest.returncode == 0, out[-3000:]
        delivered = {s: set(ids) for s, ids in exchanges.bybit.delivered.items()}
    finally:
        exchanges.stop()
    for label in LABELS[:3]:  # the holes were seen and filled over REST
        backfilled = [line for line in metrics.splitlines()
                      if line.startswith(f"argos_ingest_backfilled_trades_total{{{label}")]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in backfilled) >= 10, (label, backfilled)

    runner.start(idle_stop=5)
    assert runner.wait() == 0, runner.tail()
    got = runner.query("SELECT venue, market, symbol, count() AS n, uniqExact(trade_id) AS ids, min(trade_id) AS lo, "
                       "max(trade_id) AS hi FROM argos.trades GROUP BY venue, market, symbol "
                       "ORDER BY venue, market, symbol")
    print(got.to_string())
    assert [(r.venue, r.market, r.symbol) for r in got.itertuples()] == [
        ("binance", "spot", "BTCUSDT"), ("binance", "spot", "ETHUSDT"), ("bybit", "linear", "BTCUSDT"),
        ("bybit", "linear", "ETHUSDT"), ("bybit", "spot", "BTCUSDT"), ("bybit", "spot", "ETHUSDT"),
        ("coinbase", "spot", "BTC-USD"), ("coinbase", "spot", "ETH-USD"), ("okx", "spot", "BTC-USDT"),
        ("okx", "spot", "ETH-USDT"), ("okx", "swap", "BTC-USDT-SWAP"), ("okx", "swap", "ETH-USDT-SWAP")]
    for row in got.itertuples():
        assert row.n == row.ids, f"{row.venue} {row.symbol}: duplicated rows"
        assert row.n > 100, f"{row.venue} {row.symbol}: too few trades"
        if row.venue == "bybit":  # opaque ids: every trade the exchange sent arrived, once
            stored = set(runner.query(f"SELECT trade_id FROM argos.trades WHERE venue = 'bybit' AND market = "
                                      f"'{row.market}' AND symbol = '{row.symbol}'")["trade_id"].astype("int64")
                         - BYBIT_SPOT_ID)
            # spot and linear subscribe one after the other to the one fake: compare from each one's first trade
            assert stored == {i for i in delivered[row.symbol] if i >= min(stored)}
        else:  # consecutive ids: no hole from the first to the last, gaps backfilled
            assert row.n == row.hi - row.lo + 1, f"{row.venue} {row.symbol}: lost trades"
    swap = runner.query("SELECT any(kind) AS kind, any(base) AS base, toFloat64(any(contract_size)) AS contract, "
                        "toFloat64(sum(quote)) AS quote, toFloat64(sum(price * qty)) * 0.01 AS expected, "
                        "toFloat64(sum(base_qty)) AS base_qty, toFloat64(sum(qty)) * 0.01 AS contracts_in_btc "
                        "FROM argos.trades WHERE symbol = 'BTC-USDT-SWAP'").iloc[0]
    assert (swap.kind, swap.base, swap.contract) == ("perpetual", "BTC", 0.01)
    assert swap.quote == pytest.approx(swap.expected, rel=1e-12)
    assert swap.base_qty == pytest.approx(swap.contracts_in_btc, rel=1e-12)
    dead = runner.query("SELECT reason FROM argos.dead_letters")
    # one garbage frame per connection: Binance, Coinbase, and Bybit's spot and linear connections to its one fake
    venues = ("binance", "bybit", "bybit", "coinbase")
    assert sorted(dead["reason"]) == [f"ingest: {v}: frame is not valid JSON" for v in venues]
