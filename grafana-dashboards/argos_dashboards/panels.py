"""Every Argos panel, defined once: Grafana JSON and the embedded page are both generated from here.

Reading rules: candles and flow come from the materialized views (``candles_1m`` with -Merge
combinators, ``flow_1m`` always summed), whales from ``whales``; the volume profile, trades/s and latency scan
``trades`` inside the primary key (symbol, trade_time) range; freshness and venue health (health_panels.py,
venue_panels.py) scan it by time alone, within the range.
All numbers leave ClickHouse as Float64 so Grafana and plotly need no Decimal handling.
"""

from __future__ import annotations

from argos_dashboards.health_panels import DEAD_LETTERS, FRESHNESS, LATENCY, TRADES_PER_SECOND
from argos_dashboards.model import Column, Kind, Panel, Scope, Viz
from argos_dashboards.shared import (  # noqa: F401  (re-exported: one place to import panel facts from)
    BLUE,
    BUY,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    GOLD,
    GREY,
    ORANGE,
    PROFILE_LEVELS,
    PURPLE,
    SELL,
    SYMBOL_FILTER,
    TEXT,
    VALUE_AREA_SHARE,
    VARIABLES,
)
from argos_dashboards.venue_panels import VENUE_PANELS

T, N, S = Kind.TIME, Kind.NUMBER, Kind.STRING

LAST_PRICE = Panel(
    key="last_price",
    title="Last price",
    description="Last traded price per symbol and its change since the start of the time range "
    "(first open to last close of the 1-minute candles).",
    viz=Viz.STAT,
    scope=Scope.OVERVIEW,
    sql=f"""
SELECT
    c.symbol                             AS symbol,
    toFloat64(argMaxMerge(c.close))      AS Price,
    (Price / toFloat64(argMinMerge(c.open)) - 1) * 100 AS Change
FROM {{db}}.candles_1m AS c
WHERE {SYMBOL_FILTER} AND $__timeFilter(minute)
GROUP BY c.symbol
ORDER BY c.symbol""",
    # Grafana titles each value "<symbol> <column>" (a stat's row name); a display name would replace the
    # whole title and drop the symbol, so the columns carry their shown names.
    columns=(
        Column("symbol", S),
        Column("Price", N),
        Column("Change", N, style="percent", unit="percent"),
    ),
    width=14,
    height=5,
)

CANDLES = Panel(
    key="candles",
    title="${symbol} · candles",
    description="OHLCV from the candles_1m materialized view (argMin/argMax by exchange time and trade "
    "id, so open and close are exact where trade ids count up; Bybit's are hashes, so fills of one millisecond "
    "tie at random); volume underneath. One candle per minute up to about 7 hours of range; longer ranges merge "
    "minutes into wider candles (about 300 to 500 per panel).",
    viz=Viz.CANDLESTICK,
    scope=Scope.SYMBOL,
    sql=f"""
SELECT
    $__timeInterval(c.minute)             AS time,
    toFloat64(argMinMerge(c.open))        AS open,
    toFloat64(max(c.high))                AS high,
    toFloat64(min(c.low))                 AS low,
    toFloat64(argMaxMerge(c.close))       AS close,
    toFloat64(sum(c.volume))              AS volume
FROM {{db}}.candles_1m AS c
WHERE {SYMBOL_FILTER} AND $__timeFilter(minute)
GROUP BY time
ORDER BY time""",
    columns=(
        Column("time", T),
        Column("open", N),
        Column("high", N),
        Column("low", N),
        Column("close", N),
        Column("volume", N, "Volume"),
    ),
    width=16,
    height=11,
    min_interval="1m",
)

VOLUME_PROFILE = Panel(
    key="volume_profile",
    title="${symbol} · volume profile",
    description=f"Traded volume at {PROFILE_LEVELS} price levels over the time range. Gold: point of "
    f"control (most traded level); blue: the {VALUE_AREA_SHARE:.0%} value area grown outwards from it, "
    "one level at a time towards the busier neighbour.",
    viz=Viz.PROFILE,
    scope=Scope.SYMBOL,
    # Levels are cut in the prices' own Decimal arithmetic (exact to 1e-18: a SHIB or PEPE price of 1e-7 gets
    # its 40 levels too), so no trade lands on a level boundary by floating-point luck; arrayFold grows the
    # value area from the POC.
    sql=f"""
SELECT
    toFloat64(lo + (level + 0.5) * span / {PROFILE_LEVELS})         AS price,
    if(level = poc, volume, 0)                                      AS poc_volume,
    if(level != poc AND level BETWEEN va.1 AND va.2, volume, 0)     AS value_area_volume,
    if(level NOT BETWEEN va.1 AND va.2, volume, 0)                  AS outside_volume
FROM
(
    SELECT
        lo, span, vols,
        toInt64(indexOf(vols, arrayMax(vols)) - 1)                  AS poc,
        arrayFold(
            (acc, i) -> if(
                acc.3 >= {VALUE_AREA_SHARE} * arraySum(vols), acc,
                if(
                    if(acc.2 + 1 < {PROFILE_LEVELS}, vols[acc.2 + 2], -1.) >= if(acc.1 > 0, vols[acc.1], -1.),
                    (acc.1, acc.2 + 1, acc.3 + vols[acc.2 + 2]),
                    (acc.1 - 1, acc.2, acc.3 + vols[acc.1]))),
            range({PROFILE_LEVELS}),
            (poc, poc, vols[poc + 1]))                              AS va
    FROM
    (
        SELECT
            any(b.lo)                                               AS lo,
            any(b.span)                                             AS span,
            sumMap(
                [least(if(b.span = 0, 0, toInt64(floor((t.price - b.lo) * {PROFILE_LEVELS} / b.span))),
                       {PROFILE_LEVELS - 1})],
                [toFloat64(t.qty)])                                 AS by_level,
            arrayMap(i -> if(has(by_level.1, i), by_level.2[indexOf(by_level.1, i)], 0.),
                     range({PROFILE_LEVELS}))                       AS vols
        FROM {{db}}.trades AS t
        CROSS JOIN
        (
            SELECT
                min(price)                                          AS lo,
                max(price) - lo                                     AS span
            FROM {{db}}.trades
            WHERE {SYMBOL_FILTER} AND $__timeFilter_ms(trade_time)
        ) AS b
        WHERE t.symbol IN (${{symbol:singlequote}}) AND t.market IN (${{market:singlequote}})
          AND t.venue IN (${{venue:singlequote}})
          AND $__timeFilter_ms(t.trade_time)
    )
    WHERE arraySum(vols) > 0
)
ARRAY JOIN vols AS volume, range({PROFILE_LEVELS}) AS level
ORDER BY price DESC""",
    columns=(
        Column("price", N, "Price"),
        Column("poc_volume", N, "Point of control", color=GOLD, stack=True),
        Column("value_area_volume", N, "Value area", color=BLUE, stack=True),
        Column("outside_volume", N, "Outside", color=GREY, stack=True),
    ),
    width=8,
    height=11,
)

PRICE_VS_VWAP = Panel(
    key="price_vwap",
    title="${symbol} · price vs VWAP",
    description="Close per interval against the volume-weighted average price anchored at the start of "
    "the time range (running sum of notional / running sum of base volume, so inverse contracts are right too).",
    viz=Viz.TIMESERIES,
    scope=Scope.SYMBOL,
    sql=f"""
SELECT
    time,
    price,
    sum(quote) OVER w / sum(volume) OVER w AS vwap
FROM
(
    SELECT
        $__timeInterval(c.minute)          AS time,
        toFloat64(argMaxMerge(c.close))    AS price,
        toFloat64(sum(c.quote_volume))     AS quote,
        toFloat64(sum(c.base_volume))      AS volume
    FROM {{db}}.candles_1m AS c
    WHERE {SYMBOL_FILTER} AND $__timeFilter(minute)
    GROUP BY time
)
WINDOW w AS (ORDER BY time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY time""",
    columns=(
        Column("time", T),
        Column("price", N, "Price", color=TEXT, style="line"),
        Column("vwap", N, "VWAP", color=ORANGE, style="line"),
    ),
    width=8,
    height=8,
    min_interval="1m",
)

ORDER_FLOW = Panel(
    key="order_flow",
    title="${symbol} · order-flow delta",
    description="Aggressive (taker) buy volume up, taker sell volume down, and their difference, from "
    "the flow_1m materialized view.",
    viz=Viz.TIMESERIES,
    scope=Scope.SYMBOL,
    sql=f"""
SELECT
    $__timeInterval(f.minute)              AS time,
    toFloat64(sum(f.buy_volume))           AS taker_buy,
    -toFloat64(sum(f.sell_volume))         AS taker_sell,
    taker_buy + taker_sell                 AS delta
FROM {{db}}.flow_1m AS f
WHERE {SYMBOL_FILTER} AND $__timeFilter(minute)
GROUP BY time
ORDER BY time""",
    columns=(
        Column("time", T),
        Column("taker_buy", N, "Taker buy", color=BUY, style="bars"),
        Column("taker_sell", N, "Taker sell", color=SELL, style="bars"),
        Column("delta", N, "Delta", color=TEXT, style="line"),
    ),
    width=8,
    height=8,
    min_interval="1m",
)

CVD = Panel(
    key="cvd",
    title="${symbol} · cumulative volume delta",
    description="Running sum of taker buy minus taker sell volume since the start of the time range: "
    "rising while price stalls means absorption of aggressive buyers, and vice versa.",
    viz=Viz.TIMESERIES,
    scope=Scope.SYMBOL,
    sql=f"""
SELECT
    time,
    sum(delta) OVER (ORDER BY time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cvd
FROM
(
    SELECT
        $__timeInterval(f.minute)                                      AS time,
        toFloat64(sum(f.buy_volume)) - toFloat64(sum(f.sell_volume))   AS delta
    FROM {{db}}.flow_1m AS f
    WHERE {SYMBOL_FILTER} AND $__timeFilter(minute)
    GROUP BY time
)
ORDER BY time""",
    columns=(Column("time", T), Column("cvd", N, "CVD", color=BLUE, style="area")),
    width=8,
    height=8,
    min_interval="1m",
)

WHALE_RADAR = Panel(
    key="whale_radar",
    title="${symbol} · whale radar",
    description="Every whale trade (USD value at or above the symbol's threshold in USD) as a bubble: time × "
    "price, area on a log scale of the USD value, green for taker buys and red for taker sells. A quote asset "
    "that is not a USD stablecoin is priced by the venue's last <ASSET>/stablecoin trade.",
    viz=Viz.BUBBLES,
    scope=Scope.SYMBOL,
    sql=f"""
SELECT
    w.trade_time                                          AS time,
    if(w.side = 'buy', toFloat64(w.price), NULL)          AS buy,
    if(w.side = 'sell', toFloat64(w.price), NULL)         AS sell,
    toFloat64(w.quote_usd)                                AS quote,
    log10(toFloat64(w.quote_usd))                         AS size
FROM {{db}}.whales AS w
WHERE {SYMBOL_FILTER} AND $__timeFilter_ms(trade_time)
ORDER BY w.trade_time""",
    columns=(
        Column("time", T),
        # Series names share no word: xychart's legend strips words common to all of them.
        Column("buy", N, "Buy", color=BUY),
        Column("sell", N, "Sell", color=SELL),
        Column("quote", N, "USD value", unit="currencyUSD"),
        Column("size", N, "log10 USD value"),
    ),
    width=16,
    height=9,
)

WHALE_TABLE = Panel(
    key="whale_table",
    title="${symbol} · latest whales",
    description="The 50 most recent whale trades in the time range, newest first: notional in the quote asset, "
    "its USD value and where the USD rate came from (stablecoin 1:1, or the symbol whose last price gave it).",
    viz=Viz.TABLE,
    scope=Scope.SYMBOL,
    sql=f"""
SELECT
    w.trade_time               AS time,
    w.symbol                   AS symbol,
    w.side                     AS side,
    toFloat64(w.price)         AS price,
    toFloat64(w.qty)           AS qty,
    toFloat64(w.quote)         AS quote,
    toFloat64(w.quote_usd)     AS usd,
    w.rate_source              AS rate_source
FROM {{db}}.whales AS w
WHERE {SYMBOL_FILTER} AND $__timeFilter_ms(trade_time)
ORDER BY w.trade_time DESC, w.trade_id DESC
LIMIT 50""",
    columns=(
        Column("time", T, "Time"),
        Column("symbol", S, "Symbol"),
        Column("side", S, "Side"),
        Column("price", N, "Price"),
        Column("qty", N, "Qty"),
        Column("quote", N, "Notional"),
        Column("usd", N, "USD", unit="currencyUSD"),
        Column("rate_source", S, "USD rate"),
    ),
    width=8,
    height=9,
)

PANELS: tuple[Panel, ...] = (
    LAST_PRICE,
    FRESHNESS,
    DEAD_LETTERS,
    CANDLES,
    VOLUME_PROFILE,
    PRICE_VS_VWAP,
    ORDER_FLOW,
    CVD,
    WHALE_RADAR,
    WHALE_TABLE,
    TRADES_PER_SECOND,
    LATENCY,
)
# The cross-venue section sits between the pipeline row and the per-symbol rows (Grafana repeats the last row).
PANELS = PANELS[:3] + VENUE_PANELS + PANELS[3:]


def panels(scope: Scope) -> list[Panel]:
    """The panels of one scope, in layout order."""
    return [p for p in PANELS if p.scope is scope]
