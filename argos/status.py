"""What `argos status` shows, read with any rows function (a client of our own, or the demo's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RowsFn = Callable[[str], list[dict[str, Any]]]

# One row per venue and symbol (Binance's and Bybit's BTCUSDT are different books).
# Whales come from the whales table: since migration 0006 it also holds trades priced through a reference
# pair (e.g. XRPETH via ETHUSDT), which trades.is_whale (the stablecoin-rate flag) does not mark.
PER_SYMBOL_SQL = """
SELECT t.venue AS venue, t.symbol AS symbol, t.trades AS trades, t.last_price AS last_price,
       ifNull(w.whales, 0) AS whales, t.last_trade AS last_trade, t.lag_p50_ms AS lag_p50_ms
FROM (SELECT venue, symbol, count() AS trades, toFloat64(argMax(price, trade_time)) AS last_price,
             toString(max(trade_time)) AS last_trade,
             quantile(0.5)(dateDiff('millisecond', trade_time, insert_time)) AS lag_p50_ms
      FROM {db}.trades GROUP BY venue, symbol) AS t
LEFT JOIN (SELECT venue, symbol, count() AS whales FROM {db}.whales GROUP BY venue, symbol) AS w
       ON w.venue = t.venue AND w.symbol = t.symbol
ORDER BY venue, symbol
SETTINGS join_use_nulls = 1"""

TOTALS_SQL = """
SELECT (SELECT count() FROM {db}.trades) AS trades,
       (SELECT uniqExact(venue, market, symbol, trade_id) FROM {db}.trades) AS distinct_ids,
       (SELECT uniqExact(symbol) FROM {db}.trades) AS symbols,
       (SELECT count() FROM {db}.whales) AS whales,
       (SELECT count() FROM {db}.candles_1m_view) AS candles,
       (SELECT count() FROM {db}.dead_letters) AS dead_letters"""


def redact_url(url: str) -> str:
    """``url`` fit to print: a password in it becomes ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def client_rows(client: Any) -> RowsFn:
    """A clickhouse-connect client as a rows function (plain Python values, no pyarrow needed)."""
    return lambda sql: list(client.query(sql).named_results())


def read_status(rows: RowsFn, db: str = "argos") -> dict[str, Any]:
    """Per-symbol counts, last price, freshness and lag, and pipeline totals (JSON-ready)."""
    return {"symbols": rows(PER_SYMBOL_SQL.format(db=db)), "totals": rows(TOTALS_SQL.format(db=db))[0]}


def summary_line(status: dict[str, Any]) -> str:
    t = status["totals"]
    return (
        f"{t['trades']:,} trades across {t['symbols']} symbols ({t['trades'] - t['distinct_ids']} duplicate ids), "
        f"{t['candles']} one-minute candles, {t['whales']} whales, {t['dead_letters']} dead letters"
    )
