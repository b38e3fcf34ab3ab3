-- Every normalized trade, one row per (venue, market, symbol, trade_id).
-- ORDER BY (symbol, trade_time, trade_id): dashboards filter by symbol and a time range, so both lead the
-- sort key; trade_id last makes the order total within a microsecond. Monthly partitions keep part counts
-- low for a stream of small inserts and make retention a cheap DROP PARTITION.
-- The deduplication window lets the ETL retry a micro-batch with the same insert_deduplication_token
-- without writing it twice (replicated tables keep their own replicated_deduplication_window).
-- Stage timestamps (exchange -> ingest -> Spark -> insert) give per-stage latency for every row.
CREATE TABLE IF NOT EXISTS {db}.trades
(
    venue          LowCardinality(String),
    market         LowCardinality(String),
    symbol         LowCardinality(String),
    trade_id       UInt64,
    price          Decimal(38, 18),
    qty            Decimal(38, 18),
    quote          Decimal(38, 18) COMMENT 'price x qty, in the quote asset',
    is_buyer_maker Bool,
    side           LowCardinality(String) COMMENT 'taker side: buy or sell',
    is_whale       Bool,
    trade_time     DateTime64(6, 'UTC') COMMENT 'exchange: when the trade happened',
    event_time     DateTime64(6, 'UTC') COMMENT 'exchange: when the event was sent',
    ingest_time    DateTime64(6, 'UTC') COMMENT 'ingest: when Argos received it',
    process_time   DateTime64(6, 'UTC') COMMENT 'Spark: when its micro-batch was processed',
    insert_time    DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'ClickHouse: when the row was written'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(trade_time)
ORDER BY (symbol, trade_time, trade_id)
SETTINGS non_replicated_deduplication_window = 10000;
