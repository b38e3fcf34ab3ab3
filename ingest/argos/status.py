"""What `argos status` shows, read with any query function (a client of our own, or the demo's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

QueryFn = Callable[[str], pa.Table]

PER_SYMBOL_SQL = """
SELECT symbol, count() AS trades, toFloat64(argMax(price, trade_time)) AS last_price,
       countIf(is_whale) AS whales, toString(max(trade_time)) AS last_trade,
       quantile(0.5)(dateDiff('millisecond', trade_time, insert_time)) AS lag_p50_ms
FROM {db}.trades GROUP BY symbol ORDER BY symbol"""

TOTALS_SQL = """
SELECT (SELECT count() FROM {db}.trades) AS trades,
       (SELECT uniqExact(venue, market, symbol, trade_id) FROM {db}.trades) AS distinct_ids,
       (SELECT uniqExact(symbol) FROM {db}.trades) AS symbols,
       (SELECT countIf(is_whale) FROM {db}.trades) AS whales,
       (SELECT count() FROM {db}.candles_1m_view) AS candles,
       (SELECT count() FROM {db}.dead_letters) AS dead_letters"""


def read_status(query: QueryFn, db: str = "argos") -> dict[str, Any]:
    """Per-symbol counts, last price, freshness and lag, and pipeline totals (JSON-ready)."""
    return {
        "symbols": query(PER_SYMBOL_SQL.format(db=db)).to_pylist(),
        "totals": query(TOTALS_SQL.format(db=db)).to_pylist()[0],
    }


def summary_line(status: dict[str, Any]) -> str:
    t = status["totals"]
    return (
        f"{t['trades']:,} trades across {t['symbols']} symbols ({t['trades'] - t['distinct_ids']} duplicate ids), "
        f"{t['candles']} one-minute candles, {t['whales']} whales, {t['dead_letters']} dead letters"
    )
