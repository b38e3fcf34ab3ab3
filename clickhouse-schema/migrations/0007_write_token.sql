-- Which micro-batch write stored each trade: '<query id>:<batch id>:<writer>' (the insert's deduplication
-- token without its table suffix; '' for rows written before this migration or by hand).
-- Why: a crash inside an INSERT can leave the trades part committed and a view's part not. Spark replays the
-- batch; the ETL's content de-duplication must not then drop the trades that this same write stored, or
-- nothing is re-sent and the views never get them. The ETL leaves out rows carrying its own write token from
-- that lookup, so a replay re-sends the batch unchanged under the same token: trades skips the block as a
-- duplicate and each view (deduplicate_blocks_in_dependent_materialized_views) adds what it missed.
-- One value per insert: LowCardinality stores it in a few bytes per part.
ALTER TABLE {db}.trades
    ADD COLUMN IF NOT EXISTS write_token LowCardinality(String) DEFAULT ''
    COMMENT 'Spark: the micro-batch write that stored the row (<query id>:<batch id>:<writer>)';
