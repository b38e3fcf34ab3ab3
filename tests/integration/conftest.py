"""Reference results for the pipeline tests (the ETL harness is the ``etl`` fixture of the root conftest)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pytest

from argos.contract import Trade
from argos_testkit.etl_process import EtlProcess

pytestmark = pytest.mark.slow


def expected_candles(trades: Iterable[Trade]) -> pd.DataFrame:
    """1-minute OHLCV, VWAP and taker flow computed independently with pandas."""
    df = pd.DataFrame(
        {"symbol": t.symbol, "trade_id": t.trade_id, "price": float(t.price), "qty": float(t.qty),
         "quote": float(t.quote), "buy": not t.is_buyer_maker, "trade_time": t.trade_time}
        for t in trades
    )
    df["minute"] = df["trade_time"] // 60_000_000 * 60  # epoch seconds of the minute
    df = df.sort_values(["symbol", "trade_time", "trade_id"])
    df["buy_volume"] = df["qty"].where(df["buy"], 0.0)
    df["sell_volume"] = df["qty"].where(~df["buy"], 0.0)
    out = df.groupby(["symbol", "minute"]).agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"), close=("price", "last"),
        volume=("qty", "sum"), quote_volume=("quote", "sum"), trades=("price", "size"),
        buy_volume=("buy_volume", "sum"), sell_volume=("sell_volume", "sum"),
    )
    out["vwap"] = out["quote_volume"] / out["volume"]
    return out.reset_index()


CANDLES_SQL = """
SELECT c.symbol AS symbol, toInt64(toUnixTimestamp(c.minute)) AS minute, toFloat64(c.open) AS open,
       toFloat64(c.high) AS high, toFloat64(c.low) AS low, toFloat64(c.close) AS close, toFloat64(c.volume) AS volume,
       toFloat64(c.quote_volume) AS quote_volume, c.trades AS trades, toFloat64(c.vwap) AS vwap,
       toFloat64(f.buy_volume) AS buy_volume, toFloat64(f.sell_volume) AS sell_volume
FROM argos.candles_1m_view AS c
INNER JOIN (SELECT symbol, minute, sum(buy_volume) AS buy_volume, sum(sell_volume) AS sell_volume
            FROM argos.flow_1m GROUP BY symbol, minute) AS f USING (symbol, minute)
ORDER BY symbol, minute
"""


def assert_candles_match(runner: EtlProcess, trades: list[Trade]) -> None:
    got = runner.query(CANDLES_SQL)
    want = expected_candles(trades)
    got = got.astype({"trades": "int64"})
    pd.testing.assert_frame_equal(
        got[want.columns].reset_index(drop=True), want.reset_index(drop=True), check_dtype=False, rtol=1e-9
    )
