-- Anything the ETL could not accept, with the raw payload and the reason: nothing is dropped silently.
-- Ordered by time because it is read as "what went wrong lately"; 90-day TTL since it is a debugging aid.
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    process_time DateTime64(6, 'UTC'),
    source       LowCardinality(String) COMMENT 'kafka:<topic> or spool',
    reason       String,
    raw          String,
    batch_id     UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(process_time)
ORDER BY (process_time, reason)
TTL toDateTime(process_time) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;
