-- Whale trades (quote value at or above the ETL's threshold) copied out as they arrive, so the whale
-- radar reads a tiny table instead of scanning all trades. Ordered by time: it is read newest first.
CREATE TABLE IF NOT EXISTS {db}.whales
(
    venue      LowCardinality(String),
    market     LowCardinality(String),
    symbol     LowCardinality(String),
    trade_id   UInt64,
    trade_time DateTime64(6, 'UTC'),
    price      Decimal(38, 18),
    qty        Decimal(38, 18),
    quote      Decimal(38, 18),
    side       LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(trade_time)
ORDER BY (trade_time, symbol, trade_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.whales_mv TO {db}.whales AS
SELECT venue, market, symbol, trade_id, trade_time, price, qty, quote, side
FROM {db}.trades
WHERE is_whale;
