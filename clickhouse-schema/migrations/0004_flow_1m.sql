-- 1-minute taker flow: aggressive buy vs sell volume per symbol, the raw material of order-flow delta
-- and CVD. SummingMergeTree adds rows with the same key on merge; readers still sum() because merges
-- are eventual.
CREATE TABLE IF NOT EXISTS {db}.flow_1m
(
    venue       LowCardinality(String),
    market      LowCardinality(String),
    symbol      LowCardinality(String),
    minute      DateTime('UTC'),
    buy_volume  Decimal(38, 18),
    sell_volume Decimal(38, 18),
    buy_quote   Decimal(38, 18),
    sell_quote  Decimal(38, 18),
    buy_trades  UInt64,
    sell_trades UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (symbol, minute, venue, market)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.flow_1m_mv TO {db}.flow_1m AS
SELECT
    venue, market, symbol,
    toStartOfMinute(trade_time)                     AS minute,
    sumIf(qty, side = 'buy')                        AS buy_volume,
    sumIf(qty, side = 'sell')                       AS sell_volume,
    sumIf(quote, side = 'buy')                      AS buy_quote,
    sumIf(quote, side = 'sell')                     AS sell_quote,
    countIf(side = 'buy')                           AS buy_trades,
    countIf(side = 'sell')                          AS sell_trades
FROM {db}.trades
GROUP BY venue, market, symbol, minute;
