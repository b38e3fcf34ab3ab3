"""Panel numbers equal an independent pandas computation from the same fixture trades."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from argos_dashboards.data import run_panel
from argos_dashboards.panels import (
    CANDLES,
    CVD,
    FRESHNESS,
    LAST_PRICE,
    LATENCY,
    ORDER_FLOW,
    PRICE_VS_VWAP,
    PROFILE_LEVELS,
    TRADES_PER_SECOND,
    VALUE_AREA_SHARE,
    VOLUME_PROFILE,
    WHALE_RADAR,
    WHALE_TABLE,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def trades_of(market, symbol: str) -> pd.DataFrame:
    t = market.trades
    t = t[(t.venue == "binance") & (t.symbol == symbol) & (t.trade_time >= market.start)
          & (t.trade_time <= market.end)]
    return t.sort_values(["trade_time", "trade_id"]).assign(minute=lambda d: d.trade_time.dt.floor("min"))


def panel_rows(query, market, panel, symbol: str) -> pd.DataFrame:
    return run_panel(query, panel, market.selection([symbol])).set_index("time", drop=False)


def close(actual: pd.Series | np.ndarray, expected: pd.Series | np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_candles_are_exact_ohlcv(query, market, symbol: str) -> None:
    t = trades_of(market, symbol)
    expected = t.groupby("minute").agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"), close=("price", "last"),
        volume=("qty", "sum"),
    )
    got = panel_rows(query, market, CANDLES, symbol)
    assert list(got.index) == list(expected.index)
    for col in ("open", "high", "low", "close", "volume"):
        close(got[col], expected[col])


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_vwap_is_anchored_at_range_start(query, market, symbol: str) -> None:
    per_minute = trades_of(market, symbol).groupby("minute").agg(
        quote=("quote", "sum"), qty=("qty", "sum"), price=("price", "last"))
    got = panel_rows(query, market, PRICE_VS_VWAP, symbol)
    close(got["vwap"], per_minute["quote"].cumsum() / per_minute["qty"].cumsum())
    close(got["price"], per_minute["price"])


def _flow(market, symbol: str) -> pd.DataFrame:
    t = trades_of(market, symbol)
    flow = t.pivot_table(index="minute", columns="side", values="qty", aggfunc="sum").fillna(0.0)
    return flow.reindex(columns=["buy", "sell"], fill_value=0.0)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_order_flow_delta_and_cvd(query, market, symbol: str) -> None:
    flow = _flow(market, symbol)
    got = panel_rows(query, market, ORDER_FLOW, symbol)
    close(got["taker_buy"], flow["buy"])
    close(got["taker_sell"], -flow["sell"])
    close(got["delta"], flow["buy"] - flow["sell"])
    cvd = panel_rows(query, market, CVD, symbol)
    close(cvd["cvd"], (flow["buy"] - flow["sell"]).cumsum())


def reference_profile(prices: np.ndarray, qtys: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, tuple[int, int]]:
    """Volume per level, level prices, POC index and the value area grown from the POC level by level.

    Levels split [min, max] into equal parts, cut in exact decimal arithmetic like the panel."""
    exact = [Decimal(repr(float(p))) for p in prices]
    lo, span = min(exact), max(exact) - min(exact)
    levels = np.array([min(int((p - lo) * PROFILE_LEVELS // span) if span else 0, PROFILE_LEVELS - 1) for p in exact])
    volume = np.bincount(levels, weights=qtys, minlength=PROFILE_LEVELS)
    poc = int(np.argmax(volume))
    low, high, total = poc, poc, volume[poc]
    while total < VALUE_AREA_SHARE * volume.sum():
        up = volume[high + 1] if high + 1 < PROFILE_LEVELS else -1.0
        down = volume[low - 1] if low > 0 else -1.0
        if up >= down:
            high, total = high + 1, total + up
        else:
            low, total = low - 1, total + down
    return volume, float(lo) + (np.arange(PROFILE_LEVELS) + 0.5) * float(span) / PROFILE_LEVELS, poc, (low, high)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_volume_profile_poc_and_value_area(query, market, symbol: str) -> None:
    t = trades_of(market, symbol)
    volume, level_prices, poc, (low, high) = reference_profile(t.price.to_numpy(), t.qty.to_numpy())
    got = run_panel(query, VOLUME_PROFILE, market.selection([symbol])).sort_values("price").reset_index(drop=True)
    assert len(got) == PROFILE_LEVELS
    close(got["price"], level_prices)
    close(got[["poc_volume", "value_area_volume", "outside_volume"]].sum(axis=1), volume)
    assert got.index[got.poc_volume > 0].tolist() == [poc]
    in_area = got.index[(got.poc_volume > 0) | (got.value_area_volume > 0)].tolist()
    assert in_area == list(range(low, high + 1))
    assert volume[low : high + 1].sum() >= VALUE_AREA_SHARE * volume.sum()


def test_volume_profile_of_a_price_far_below_a_cent(client, market) -> None:
    """A PEPE-like price (~6e-7): BTCUSDT's trades scaled by 1e-11 into a database of their own still fill the
    levels they did (cut in 1e-8 units, all had fallen into one level)."""
    from argos_schema.migrate import migrate

    tiny = "argos_tiny_prices_test"
    client.command(f"DROP DATABASE IF EXISTS {tiny}")
    migrate(client, db=tiny)
    try:
        selection = market.selection(["BTCUSDT"])
        client.command(f"INSERT INTO {tiny}.trades SELECT * REPLACE (price / 100000000000 AS price) "
                       f"FROM {selection.db}.trades WHERE symbol = 'BTCUSDT' AND venue = 'binance' AND market = 'spot'")
        t = trades_of(market, "BTCUSDT")
        prices = [float(Decimal(repr(float(p))) / 10**11) for p in t.price]
        volume, level_prices, _, _ = reference_profile(np.array(prices), t.qty.to_numpy())
        got = run_panel(client.query_arrow, VOLUME_PROFILE, replace(selection, db=tiny)).sort_values("price")
        assert (volume > 0).sum() > 20, "the reference itself spreads the trades over the levels"
        close(got["price"].to_numpy(), level_prices)
        close(got[["poc_volume", "value_area_volume", "outside_volume"]].sum(axis=1).to_numpy(), volume)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {tiny}")


def test_last_price_and_change(query, market) -> None:
    got = run_panel(query, LAST_PRICE, market.selection()).set_index("symbol")
    for symbol in SYMBOLS:
        t = trades_of(market, symbol)
        first, last = t.price.iloc[0], t.price.iloc[-1]
        close([got.loc[symbol, "Price"]], [last])
        close([got.loc[symbol, "Change"]], [(last / first - 1) * 100])


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_whales_match_the_threshold(query, market, symbol: str) -> None:
    t = trades_of(market, symbol)
    whales = t[t.quote >= 10_000]
    radar = run_panel(query, WHALE_RADAR, market.selection([symbol]))
    assert len(radar) == len(whales) > 0
    assert radar["buy"].notna().sum() == (whales.side == "buy").sum()
    close(np.sort(radar["size"]), np.sort(np.log10(whales.quote)))
    latest = run_panel(query, WHALE_TABLE, market.selection([symbol]))
    close(latest["quote"], whales.sort_values(["trade_time", "trade_id"], ascending=False).quote.head(50))


def test_trades_per_second_counts_every_trade(query, market) -> None:
    got = run_panel(query, TRADES_PER_SECOND, market.selection())
    interval = market.selection().window(TRADES_PER_SECOND).interval_s
    expected = sum(len(trades_of(market, s)) for s in SYMBOLS)
    assert round((got["Value"] * interval).sum()) == expected


def test_latency_stages_are_mean_milliseconds(query, market) -> None:
    selection = market.selection()
    interval = selection.window(LATENCY).interval_s
    t = pd.concat([trades_of(market, s) for s in SYMBOLS])
    bucket = t.trade_time.dt.floor(f"{interval}s")
    stages = {
        "exchange_to_ingest": ("trade_time", "ingest_time"),
        "ingest_to_spark": ("ingest_time", "process_time"),
        "spark_to_clickhouse": ("process_time", "insert_time"),
    }
    got = run_panel(query, LATENCY, selection).set_index("time")
    for name, (a, b) in stages.items():
        expected = ((t[b] - t[a]).dt.total_seconds() * 1000).groupby(bucket).mean()
        close(got[name], expected)
    assert (got["end_to_end_p95"] > got[list(stages)].sum(axis=1) * 0.5).all()


def test_freshness_keeps_growing_when_the_stall_outlasts_the_range(query, market) -> None:
    """A range after the newest trade still shows how long ago it was, instead of nothing."""
    later = market.selection()
    later = type(later)(later.db, market.end + timedelta(hours=2), market.end + timedelta(hours=3), later.variables)
    got = run_panel(query, FRESHNESS, later)
    newest = market.trades.trade_time.max().to_pydatetime()
    age = (datetime.now(UTC) - newest).total_seconds()
    assert len(got) == 1
    assert age - 5 <= got["since_trade"].iloc[0] <= age + 5
    assert got["since_insert"].iloc[0] >= 0


def test_venue_health_counts_missing_ids_per_market(client, query) -> None:
    """A symbol's spot and futures trades are numbered apart: gaps are counted within each market."""
    from argos_dashboards.data import Selection
    from argos_dashboards.venue_panels import VENUE_HEALTH
    from argos_schema.migrate import migrate

    db = "argos_venue_health_test"
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db=db)
    now = datetime.now(UTC).replace(microsecond=0)
    ids = {"spot": [*range(100, 105), *range(106, 110)], "usdm": list(range(9_000, 9_005))}  # spot: 105 missing
    values = ", ".join(
        f"('binance', '{market}', 'BTCUSDT', {i}, 64000, 0.01, 640, 0, 'buy', 0, "
        f"toDateTime64('{now - timedelta(seconds=60 - n)}', 6, 'UTC'), now64(6), now64(6), now64(6))"
        for market, numbers in ids.items() for n, i in enumerate(numbers))
    client.command(f"INSERT INTO {db}.trades (venue, market, symbol, trade_id, price, qty, quote, is_buyer_maker, "
                   f"side, is_whale, trade_time, event_time, ingest_time, process_time) VALUES {values}")
    selection = Selection(db, now - timedelta(minutes=5), now + timedelta(minutes=1),
                          {"venues": ["binance"]})
    got = run_panel(query, VENUE_HEALTH, selection).set_index("market")
    assert got.loc["spot", "trades"] == 9 and got.loc["usdm", "trades"] == 5
    assert got.loc["spot", "missing_ids"] == 1
    assert got.loc["usdm", "missing_ids"] == 0


def test_embedded_tables_show_counts_whole_and_other_numbers_with_decimals():
    from argos_dashboards.figures import table
    from argos_dashboards.venue_panels import VENUE_HEALTH

    rows = pd.DataFrame({"venue": ["binance", "okx"], "market": ["spot", "spot"], "symbol": ["BTCUSDT", "BTC-USDT"],
                         "trades": np.array([1476, 20], dtype="uint64"), "since_last": [0.25, 3.5],
                         "missing_ids": [5.0, np.nan]})
    cells = dict(zip([c.name for c in VENUE_HEALTH.columns], table(VENUE_HEALTH, rows).data[0].cells.values,
                     strict=True))
    assert cells["trades"] == ["1,476", "20"]
    assert cells["missing_ids"] == ["5", "–"]
    assert cells["since_last"] == ["0.25", "3.50"]


def test_venues_compare_perpetuals_whatever_each_calls_its_market(client, query) -> None:
    """Binance usdm/coinm, Bybit linear and OKX swap are all perpetuals; a dated future is not one of them."""
    from argos_dashboards.data import Selection, variable_values
    from argos_dashboards.panels import VARIABLES
    from argos_dashboards.venue_panels import PRICE_BY_VENUE
    from argos_schema.migrate import migrate

    db = "argos_perpetuals_test"
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db=db)
    now = datetime.now(UTC).replace(microsecond=0)
    instruments = [("binance", "usdm", "BTCUSDT", 64_010), ("binance", "coinm", "BTCUSD_PERP", 64_020),
                   ("bybit", "linear", "BTCUSDT", 64_030), ("okx", "swap", "BTC-USDT-SWAP", 64_040),
                   ("binance", "usdm", "BTCUSDT_261225", 65_000), ("binance", "spot", "BTCUSDT", 64_000)]
    values = ", ".join(
        f"('{venue}', '{market}', '{symbol}', {n}, {price}, 0.01, {price / 100}, 0, 'buy', 0, "
        f"toDateTime64('{now - timedelta(seconds=30)}', 6, 'UTC'), now64(6), now64(6), now64(6))"
        for n, (venue, market, symbol, price) in enumerate(instruments))
    client.command(f"INSERT INTO {db}.trades (venue, market, symbol, trade_id, price, qty, quote, is_buyer_maker, "
                   f"side, is_whale, trade_time, event_time, ingest_time, process_time) VALUES {values}")
    venues = {"venues": ["binance", "bybit", "okx"]}
    kind = next(v for v in VARIABLES if v.name == "kind")
    assert variable_values(query, kind, db, now - timedelta(minutes=5), now, venues) == ["future", "perpetual", "spot"]
    selection = Selection(db, now - timedelta(minutes=5), now + timedelta(minutes=1),
                          {**venues, "kind": ["perpetual"], "asset": ["BTC"]})
    got = run_panel(query, PRICE_BY_VENUE, selection)
    assert sorted(got["venue"]) == ["binance", "bybit", "okx"]  # Binance's usdm and coinm lines are one venue's
    client.command(f"DROP DATABASE {db}")
