-- 1-minute OHLCV candles kept up to date incrementally as trades are inserted.
-- AggregatingMergeTree stores partial aggregates per insert block; read with the -Merge combinators
-- (see the candles_1m_view below) so partially merged parts still give exact candles.
-- open/close use argMin/argMax over (trade_time, trade_id) so ties inside a microsecond are ordered.
-- quote_volume / volume is the VWAP; both are kept so VWAP over any range is exact.
CREATE TABLE IF NOT EXISTS {db}.candles_1m
(
    venue        LowCardinality(String),
    market       LowCardinality(String),
    symbol       LowCardinality(String),
    minute       DateTime('UTC'),
    open         AggregateFunction(argMin, Decimal(38, 18), Tuple(DateTime64(6, 'UTC'), UInt64)),
    high         SimpleAggregateFunction(max, Decimal(38, 18)),
    low          SimpleAggregateFunction(min, Decimal(38, 18)),
    close        AggregateFunction(argMax, Decimal(38, 18), Tuple(DateTime64(6, 'UTC'), UInt64)),
    volume       SimpleAggregateFunction(sum, Decimal(38, 18)),
    quote_volume SimpleAggregateFunction(sum, Decimal(38, 18)),
    trades       SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (symbol, minute, venue, market)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.candles_1m_mv TO {db}.candles_1m AS
SELECT
    venue, market, symbol,
    toStartOfMinute(trade_time)                 AS minute,
    argMinState(price, (trade_time, trade_id))  AS open,
    max(price)                                  AS high,
    min(price)                                  AS low,
    argMaxState(price, (trade_time, trade_id))  AS close,
    sum(qty)                                    AS volume,
    sum(quote)                                  AS quote_volume,
    count()                                     AS trades
FROM {db}.trades
GROUP BY venue, market, symbol, minute;

-- Finalized candles for readers that do not want to know about -Merge combinators.
CREATE VIEW IF NOT EXISTS {db}.candles_1m_view AS
SELECT
    venue, market, symbol, minute,
    argMinMerge(open)                 AS open,
    max(high)                         AS high,
    min(low)                          AS low,
    argMaxMerge(close)                AS close,
    sum(volume)                       AS volume,
    sum(quote_volume)                 AS quote_volume,
    divideDecimal(sum(c.quote_volume), sum(c.volume), 18) AS vwap,  -- plain Decimal128 division overflows
    sum(trades)                       AS trades
FROM {db}.candles_1m AS c
GROUP BY venue, market, symbol, minute;
