-- Only trades whose quote is not a USD stablecoin pay for the USD-rate lookup (issue 11).
-- Why: ClickHouse analyses every view's SELECT on every insert into trades, and the whale view's scalar subquery
-- (each venue's latest USD rates) ran then, reading usd_rates, even when no row needed a rate; so did the unpriced
-- view's NOT IN set. Now a stablecoin-quoted trade is classed straight from its own usd_rate, and only trades
-- without one (XRPETH, BTCTRY, ...) pass through a Null table to the two views that look rates up. A block with
-- none of them stops at that table: its dependent views are not run. A 400-row stablecoin insert with all views
-- took 52 ms before and 41 ms after (static, chDB, medians of 60); a block holding cross-quoted trades costs
-- ~8 ms more than before (docs/benchmarks item 27). What lands in whales and unpriced_1m is unchanged.
-- Applied to a running pipeline, cross-quoted trades inserted between the third and the last statement (a few
-- milliseconds) reach neither whales nor unpriced_1m; stablecoin trades are never missed.
CREATE TABLE IF NOT EXISTS {db}.cross_quoted_trades
(
    venue               LowCardinality(String),
    market              LowCardinality(String),
    symbol              LowCardinality(String),
    quote_asset         LowCardinality(String),
    trade_id            UInt64,
    trade_time          DateTime64(6, 'UTC'),
    price               Decimal(76, 18),
    qty                 Decimal(76, 18),
    quote               Decimal(76, 18),
    whale_threshold_usd Decimal(38, 8),
    trade_count         UInt32,
    side                LowCardinality(String)
)
ENGINE = Null
COMMENT 'trades without a stablecoin usd_rate, passed on to whales_cross_mv and unpriced_1m_mv; stores nothing';

-- Cross-quoted whales: priced by the venue's latest <ASSET>/stablecoin rate (a scalar subquery, no join).
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.whales_cross_mv TO {db}.whales AS
SELECT venue, market, symbol, quote_asset, trade_id, trade_time, price, qty, quote, rate_used AS usd_rate,
       toDecimal256(quote * rate_used, 18) AS quote_usd, rate_from AS rate_source, trade_count, side
FROM (
    WITH (SELECT (CAST((groupArray(key), groupArray(rate)), 'Map(String, Decimal(76, 18))'),
                  CAST((groupArray(key), groupArray(source)), 'Map(String, String)'))
          FROM (SELECT concat(venue, ':', asset) AS key, argMax(rate, time) AS rate, argMax(source, time) AS source
                FROM {db}.usd_rates GROUP BY venue, asset)) AS ref
    SELECT *, ref.1[concat(venue, ':', quote_asset)] AS rate_used, ref.2[concat(venue, ':', quote_asset)] AS rate_from
    FROM {db}.cross_quoted_trades
)
WHERE rate_used > 0 AND quote * rate_used >= whale_threshold_usd;

-- Stablecoin-quoted whales: the row's own rate, no lookup.
ALTER TABLE {db}.whales_mv MODIFY QUERY
SELECT venue, market, symbol, quote_asset, trade_id, trade_time, price, qty, quote, assumeNotNull(usd_rate) AS usd_rate,
       toDecimal256(quote * assumeNotNull(usd_rate), 18) AS quote_usd, 'stablecoin' AS rate_source, trade_count, side
FROM {db}.trades
WHERE usd_rate > 0 AND quote * usd_rate >= whale_threshold_usd;

ALTER TABLE {db}.unpriced_1m_mv MODIFY QUERY
SELECT venue, market, symbol, quote_asset, toStartOfMinute(trade_time) AS minute, count() AS trades,
       sum(quote) AS quote
FROM {db}.cross_quoted_trades
WHERE (venue, quote_asset) NOT IN (SELECT venue, asset FROM {db}.usd_rates WHERE rate > 0)
GROUP BY venue, market, symbol, quote_asset, minute;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cross_quoted_trades_mv TO {db}.cross_quoted_trades AS
SELECT venue, market, symbol, quote_asset, trade_id, trade_time, price, qty, quote, whale_threshold_usd, trade_count,
       side
FROM {db}.trades
WHERE usd_rate IS NULL;
