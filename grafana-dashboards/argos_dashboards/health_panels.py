"""The pipeline's own health: freshness, dead letters, throughput and per-stage latency."""

from __future__ import annotations

from argos_dashboards.model import Column, Kind, Panel, Scope, Viz
from argos_dashboards.shared import BLUE, GOLD, PURPLE, SELL, SYMBOL_FILTER

T, N, S = Kind.TIME, Kind.NUMBER, Kind.STRING

FRESHNESS = Panel(
    key="freshness",
    title="Data freshness",
    description="Seconds since the newest trade happened at the exchange and since the newest row "
    "reached ClickHouse. Growing numbers mean the pipeline has stalled; they keep growing when the stall "
    "is longer than the time range.",
    viz=Viz.STAT,
    scope=Scope.OVERVIEW,
    sql="""
SELECT
    dateDiff('millisecond', max(trade_time), now64(3)) / 1000  AS since_trade,
    dateDiff('millisecond', max(insert_time), now64(3)) / 1000 AS since_insert
FROM {db}.trades
WHERE trade_time >= (SELECT max(minute) FROM {db}.candles_1m WHERE minute <= $__toTime)
HAVING count() > 0""",
    columns=(Column("since_trade", N, "Last trade"), Column("since_insert", N, "Last insert")),
    width=5,
    height=5,
    unit="s",
)

DEAD_LETTERS = Panel(
    key="dead_letters",
    title="Dead letters",
    description="Messages the ETL rejected in the time range (malformed JSON, impossible values); "
    "each keeps its raw payload and reason in the dead_letters table. Unpriced: trades whose quote asset has "
    "no USD rate yet (not a stablecoin, no <ASSET>/stablecoin trade seen on the venue), so they are neither "
    "whales nor not: see the unpriced_1m table.",
    viz=Viz.STAT,
    scope=Scope.OVERVIEW,
    sql="""
SELECT count() AS dead_letters, uniqExact(reason) AS reasons,
       (SELECT sum(trades) FROM {db}.unpriced_1m WHERE $__timeFilter(minute)) AS unpriced
FROM {db}.dead_letters
WHERE $__timeFilter_ms(process_time)""",
    columns=(Column("dead_letters", N, "Rejected"), Column("reasons", N, "Reasons"),
             Column("unpriced", N, "Unpriced")),
    width=5,
    height=5,
)

TRADES_PER_SECOND = Panel(
    key="trades_per_second",
    title="Trades per second",
    description="Trades stored per second of exchange time, stacked by symbol.",
    viz=Viz.TIMESERIES,
    scope=Scope.PIPELINE,
    sql=f"""
SELECT
    $__timeInterval(trade_time)           AS time,
    symbol,
    count() / $__interval_s               AS Value
FROM {{db}}.trades
WHERE {SYMBOL_FILTER} AND $__timeFilter_ms(trade_time)
GROUP BY time, symbol
ORDER BY time, symbol""",
    # Time-series format: the plugin turns the rows wide, one "Value" field per symbol labelled with it, and
    # Grafana names a labelled field called Value by its label alone ("BTCUSDT"). A display name would
    # name every symbol's series the same.
    columns=(Column("time", T), Column("symbol", S), Column("Value", N, style="area", stack=True)),
    width=12,
    height=7,
    time_series_format=True,
)

LATENCY = Panel(
    key="latency",
    title="Pipeline latency per stage",
    description="Mean milliseconds spent in each stage, stacked (exchange → ingest → Spark → ClickHouse), "
    "and the 95th percentile end to end.",
    viz=Viz.TIMESERIES,
    scope=Scope.PIPELINE,
    sql=f"""
SELECT
    $__timeInterval(trade_time)                                          AS time,
    avg(dateDiff('microsecond', trade_time, ingest_time)) / 1000         AS exchange_to_ingest,
    avg(dateDiff('microsecond', ingest_time, process_time)) / 1000       AS ingest_to_spark,
    avg(dateDiff('microsecond', process_time, insert_time)) / 1000       AS spark_to_clickhouse,
    quantile(0.95)(dateDiff('microsecond', trade_time, insert_time)) / 1000 AS end_to_end_p95
FROM {{db}}.trades
WHERE {SYMBOL_FILTER} AND $__timeFilter_ms(trade_time)
GROUP BY time
ORDER BY time""",
    columns=(
        Column("time", T),
        Column("exchange_to_ingest", N, "exchange → ingest", color=PURPLE, style="area", stack=True),
        Column("ingest_to_spark", N, "ingest → Spark", color=BLUE, style="area", stack=True),
        Column("spark_to_clickhouse", N, "Spark → ClickHouse", color=GOLD, style="area", stack=True),
        Column("end_to_end_p95", N, "end to end p95", color=SELL, style="line"),
    ),
    width=12,
    height=7,
    unit="ms",
)
