"""Order flow across venues: one asset (``$asset``, e.g. BTC) compared on every selected venue.

Venues spell one asset differently (BTCUSDT, BTC-USD, BTC-USDT-SWAP), so these panels group symbols by their
base asset (``BASE_OF_SYMBOL``) and keep dollar-quoted instruments only (USD, USDT, USDC, FDUSD…), whose prices
compare directly. Flows are in quote currency (notional), the one unit every venue and contract type shares.
"""

from __future__ import annotations

from argos_dashboards.model import Column, Kind, Panel, Scope, Viz
from argos_dashboards.shared import ASSET_FILTER, GOLD, GREY, VENUE_COLORS, VENUE_FILTER

T, N, S = Kind.TIME, Kind.NUMBER, Kind.STRING

PRICE_BY_VENUE = Panel(
    key="price_by_venue",
    title="${asset} · price by venue",
    description="Last traded price of the asset on each venue per interval (dollar-quoted instruments), from "
    "the candles_1m view: who leads and who follows shows as one line moving before the others.",
    viz=Viz.TIMESERIES,
    scope=Scope.VENUES,
    sql=f"""
SELECT
    $__timeInterval(c.minute)            AS time,
    c.venue                              AS venue,
    toFloat64(argMaxMerge(c.close))      AS Value
FROM {{db}}.candles_1m AS c
WHERE {VENUE_FILTER} AND {ASSET_FILTER} AND $__timeFilter(minute)
GROUP BY time, venue
ORDER BY time, venue""",
    columns=(Column("time", T), Column("venue", S), Column("Value", N, style="line")),
    width=12,
    height=8,
    min_interval="1m",
    time_series_format=True,
)

CROSS_VENUE_SPREAD = Panel(
    key="cross_venue_spread",
    title="${asset} · cross-venue spread",
    description="Highest minus lowest venue price per interval, in basis points of their mean: how far apart "
    "the venues trade the same asset (0 with one venue selected).",
    viz=Viz.TIMESERIES,
    scope=Scope.VENUES,
    sql=f"""
SELECT
    time,
    (max(price) - min(price)) / avg(price) * 10000     AS spread_bps,
    count()                                             AS venues
FROM
(
    SELECT
        $__timeInterval(c.minute)            AS time,
        c.venue                              AS venue,
        toFloat64(argMaxMerge(c.close))      AS price
    FROM {{db}}.candles_1m AS c
    WHERE {VENUE_FILTER} AND {ASSET_FILTER} AND $__timeFilter(minute)
    GROUP BY time, venue
)
GROUP BY time
ORDER BY time""",
    columns=(
        Column("time", T),
        Column("spread_bps", N, "Spread (bps)", color=GOLD, style="line"),
        Column("venues", N, "Venues trading", color=GREY, style="bars"),
    ),
    width=12,
    height=8,
    min_interval="1m",
)

VOLUME_SHARE = Panel(
    key="volume_share",
    title="${asset} · volume share by venue",
    description="Each venue's share of the traded notional per interval, in percent (stacked to 100).",
    viz=Viz.TIMESERIES,
    scope=Scope.VENUES,
    sql=f"""
SELECT
    time,
    venue,
    quote / sum(quote) OVER (PARTITION BY time) * 100   AS Value
FROM
(
    SELECT
        $__timeInterval(c.minute)            AS time,
        c.venue                              AS venue,
        toFloat64(sum(c.quote_volume))       AS quote
    FROM {{db}}.candles_1m AS c
    WHERE {VENUE_FILTER} AND {ASSET_FILTER} AND $__timeFilter(minute)
    GROUP BY time, venue
)
ORDER BY time, venue""",
    columns=(Column("time", T), Column("venue", S), Column("Value", N, style="area", stack=True)),
    width=12,
    height=8,
    unit="percent",
    min_interval="1m",
    time_series_format=True,
)

AGGREGATE_CVD = Panel(
    key="aggregate_cvd",
    title="${asset} · CVD across venues",
    description="Cumulative taker buy minus sell notional since the start of the range, summed over the "
    "selected venues ('all venues') beside each venue's own, from flow_1m.",
    viz=Viz.TIMESERIES,
    scope=Scope.VENUES,
    sql=f"""
SELECT
    time,
    series,
    sum(delta) OVER (PARTITION BY series ORDER BY time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS Value
FROM
(
    SELECT
        $__timeInterval(f.minute)                                      AS time,
        f.venue                                                        AS series,
        toFloat64(sum(f.buy_quote)) - toFloat64(sum(f.sell_quote))     AS delta
    FROM {{db}}.flow_1m AS f
    WHERE {VENUE_FILTER} AND {ASSET_FILTER} AND $__timeFilter(minute)
    GROUP BY time, series
    UNION ALL
    SELECT
        $__timeInterval(f.minute)                                      AS time,
        'all venues'                                                   AS series,
        toFloat64(sum(f.buy_quote)) - toFloat64(sum(f.sell_quote))     AS delta
    FROM {{db}}.flow_1m AS f
    WHERE {VENUE_FILTER} AND {ASSET_FILTER} AND $__timeFilter(minute)
    GROUP BY time
)
ORDER BY time, series""",
    columns=(Column("time", T), Column("series", S), Column("Value", N, style="line")),
    width=12,
    height=8,
    unit="currencyUSD",
    min_interval="1m",
    time_series_format=True,
)

WHALES_BY_VENUE = Panel(
    key="whales_by_venue",
    title="${asset} · whale radar by venue",
    description="Every whale trade of the asset as a bubble (time × price, area on a log scale of the USD notional), "
    "coloured by the venue it printed on.",
    viz=Viz.BUBBLES,
    scope=Scope.VENUES,
    sql=f"""
SELECT
    w.trade_time                                                AS time,
{",".join(f'''
    if(w.venue = '{venue}', toFloat64(w.price), NULL)           AS {venue}''' for venue in VENUE_COLORS)},
    toFloat64(w.quote_usd)                                      AS quote,
    log10(toFloat64(w.quote_usd))                               AS size
FROM {{db}}.whales AS w
WHERE {VENUE_FILTER} AND {ASSET_FILTER} AND $__timeFilter_ms(trade_time)
ORDER BY w.trade_time""",
    columns=(
        Column("time", T),
        *(Column(venue, N, title, color=color) for venue, (title, color) in VENUE_COLORS.items()),
        Column("quote", N, "Notional (USD)", unit="currencyUSD"),
        Column("size", N, "log10 USD notional"),
    ),
    width=12,
    height=9,
)

VENUE_HEALTH = Panel(
    key="venue_health",
    title="Venues · freshness and gaps",
    description="Per venue, market and symbol of the compared venues, every market (a symbol's spot and futures "
    "trades are numbered apart): trades stored in the range, seconds since the newest trade, and trade ids "
    "missing between the first and the last stored one (venues whose ids count up by one per trade: Binance, "
    "Coinbase; OKX records can merge fills and Bybit ids are opaque, so theirs stay empty).",
    viz=Viz.TABLE,
    scope=Scope.VENUES,
    sql="""
SELECT
    t.venue                                                            AS venue,
    t.market                                                           AS market,
    t.symbol                                                           AS symbol,
    count()                                                            AS trades,
    dateDiff('millisecond', max(t.trade_time), now64(3)) / 1000        AS since_last,
    if(t.venue IN ('binance', 'coinbase'),
       toFloat64(max(t.trade_id) - min(t.trade_id) + 1 - uniqExact(t.trade_id)), NULL) AS missing_ids
FROM {db}.trades AS t
WHERE t.venue IN (${venues:singlequote}) AND $__timeFilter_ms(t.trade_time)
GROUP BY t.venue, t.market, t.symbol
ORDER BY t.venue, t.market, t.symbol""",
    columns=(
        Column("venue", S, "Venue"),
        Column("market", S, "Market"),
        Column("symbol", S, "Symbol"),
        Column("trades", N, "Trades"),
        Column("since_last", N, "Last trade (s ago)"),
        Column("missing_ids", N, "Missing ids"),
    ),
    width=12,
    height=9,
)

VENUE_PANELS: tuple[Panel, ...] = (
    PRICE_BY_VENUE, CROSS_VENUE_SPREAD, VOLUME_SHARE, AGGREGATE_CVD, WHALES_BY_VENUE, VENUE_HEALTH,
)
