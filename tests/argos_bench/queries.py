"""Dashboard query latency: every panel's SQL over a large generated trades table."""


from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from argos_bench.harness import (
    SYMBOLS,
    Bench,
    percentiles,
)


def dashboard(bench: Bench) -> dict[str, Any]:
    """Every panel's SQL (rendered by the dashboard package) over a large generated trades table."""
    from argos_dashboards.data import Selection, panel_sql
    from argos_dashboards.model import Scope
    from argos_dashboards.panels import PANELS, VARIABLES

    n = bench.profile.dashboard_trades
    db = "bench_dashboard"
    settings = bench.settings(db, "unused")
    bench.migrate(settings)
    end = datetime.now(UTC).replace(microsecond=0)
    span_us = 3600 * 1_000_000
    end_us = int(end.timestamp() * 1e6)
    symbols = SYMBOLS
    chunk = 1_000_000
    t0 = time.perf_counter()
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        # Realistic shapes without Python in the loop: per-symbol random-ish walk, log-normal notional,
        # rare whales, times spread evenly over the last hour, ~1 s pipeline latency; notional, USD value and
        # whales are derived by the schema's defaults and views, as for the ETL's rows.
        bench.client.command(f"""
INSERT INTO {db}.trades (venue, market, symbol, base, quote_asset, kind, trade_id, price, qty, usd_rate,
                     is_buyer_maker, side, trade_time, event_time, ingest_time, process_time, insert_time)
SELECT 'synthetic', 'spot', sym, replaceOne(sym, 'USDT', ''), 'USDT', 'spot', number, toDecimal128(px, 18),
   toDecimal128(q, 18), toDecimal256(1, 18), maker, if(maker, 'sell', 'buy'),
   t, t + toIntervalMicrosecond(500 + number % 2500), t + toIntervalMicrosecond(4000 + number % 9000),
   t + toIntervalMicrosecond(300000 + number % 700000), t + toIntervalMicrosecond(900000 + number % 900000)
FROM (
SELECT number,
       {symbols}[number % {len(symbols)} + 1] AS sym,
       (100 + 900 * (number % {len(symbols)}))
           * (1 + 0.02 * sin(number / 70000.0) + 0.001 * (randCanonical() - 0.5)) AS px,
       exp(randNormal(log(300), 1.4)) / px AS q,
       rand() % 2 = 0 AS maker,
       fromUnixTimestamp64Micro(toInt64({end_us - span_us} + intDiv(number * {span_us}, {n}))) AS t
FROM numbers({lo}, {hi - lo})
)""")
        bench.progress("dashboard: load", 0.5 * hi / n)
    load_s = time.perf_counter() - t0
    selection = Selection(db, end - timedelta(hours=1), end + timedelta(minutes=1),
                          {"market": ["spot"], "venue": ["synthetic"], "symbol": symbols, "venues": ["synthetic"],
                           "kind": ["spot"], "asset": ["BTC"]})
    queries = [(f"variable:{v.name}", v.sql.replace("{db}", db)) for v in VARIABLES]
    from argos_dashboards.macros import QueryWindow, render

    window = QueryWindow(selection.start, selection.end, 1)
    queries = [(name, render(sql, window, selection.variables, db)) for name, sql in queries]
    for panel in PANELS:
        sel = selection.only(symbol=[symbols[0]]) if panel.scope is Scope.SYMBOL else selection
        queries.append((panel.key, panel_sql(panel, sel)))
    results = {}
    repeats = bench.profile.dashboard_repeats
    for i, (name, sql) in enumerate(queries):
        bench.client.query_arrow(sql)  # warm (first-run metadata), not counted
        times = []
        for _ in range(repeats):
            q0 = time.perf_counter()
            table = bench.client.query_arrow(sql)
            times.append((time.perf_counter() - q0) * 1000)
        results[name] = {**percentiles(times, (0.5, 0.99)), "rows": table.num_rows, "repeats": repeats}
        bench.progress("dashboard: panels", 0.5 + 0.5 * (i + 1) / len(queries))
    stored = int(bench.client.query(f"SELECT count() FROM {db}.trades").result_rows[0][0])
    out = {"trades": stored, "load_seconds": load_s, "window": "last 1 h (all trades inside it)",
           "symbols": len(symbols), "queries": results,
           "p50_max_ms": max(r["p50"] for r in results.values()),
           "p99_max_ms": max(r["p99"] for r in results.values())}
    bench.results["dashboard"] = out
    return out
