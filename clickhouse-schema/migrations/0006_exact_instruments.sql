-- Every real instrument, counted exactly (issue 10). Rebuilds trades and the tables derived from it.
-- * Decimal(76, 18) (Decimal256) for every price, quantity and notional: natural SQL is right for any Binance
--   instrument (qty up to 1e12, price down to 1e-10). Decimal(38, 18) x Decimal(38, 18) needs scale 36 in
--   Decimal128 and silently overflowed (96936.8 x 0.00493 came back as 137.6); in Decimal256 the product has
--   room up to 1e40 and quote / qty up to 1e40.
-- * quote (notional in the quote asset) is computed here, exactly, from price, qty and the contract: an
--   inverse (coin-M) contract is worth contract_size of the QUOTE, so its notional is qty x contract_size.
--   base_qty is the amount in base units, so VWAP = sum(quote) / sum(base_qty) holds for inverse contracts too.
-- * trade_count: how many exchange trades a row stands for (an aggTrade: last - first + 1); candles and flow
--   count trades by it, like the exchange's klines.
-- * Whales in USD: usd_rate is 1 for USD stablecoin quotes (set by the ETL); any other quote asset is priced by
--   the venue's last <ASSET>/<stablecoin> spot trade (usd_rates). A trade whose quote has no rate is not
--   classed: it is counted in unpriced_1m. Thresholds are in USD, per symbol, carried on each row.
-- Existing rows move to the new tables (migrated whale thresholds: the 10,000 USD default); the old trades
-- table stays as trades_v1 until you drop it. Aggregates are rebuilt from trades, which holds every row.
DROP VIEW IF EXISTS {db}.candles_1m_mv;
DROP VIEW IF EXISTS {db}.flow_1m_mv;
DROP VIEW IF EXISTS {db}.whales_mv;
DROP VIEW IF EXISTS {db}.candles_1m_view;

CREATE TABLE {db}.trades_v2
(
    venue               LowCardinality(String),
    market              LowCardinality(String),
    symbol              LowCardinality(String) COMMENT 'the venue''s own symbol, e.g. BTCUSD_PERP',
    base                LowCardinality(String) COMMENT 'base asset, e.g. BTC',
    quote_asset         LowCardinality(String) COMMENT 'quote asset, e.g. USDT (coin-M: USD)',
    kind                LowCardinality(String) COMMENT 'spot, perpetual or future',
    contract_size       Nullable(Decimal(76, 18)) COMMENT 'null: qty in base units; else qty counts contracts',
    inverse             Bool DEFAULT false COMMENT 'a contract is worth contract_size of the quote (coin-M)',
    trade_id            UInt64,
    first_trade_id      Nullable(UInt64) COMMENT 'aggregated rows: first exchange trade id',
    last_trade_id       Nullable(UInt64) COMMENT 'aggregated rows: last exchange trade id',
    trade_count         UInt32 DEFAULT 1 COMMENT 'exchange trades this row stands for',
    price               Decimal(76, 18),
    qty                 Decimal(76, 18) COMMENT 'in venue units: base, or contracts',
    quote               Decimal(76, 18) DEFAULT if(inverse,
                            toDecimal256(qty * ifNull(contract_size, toDecimal256(1, 18)), 18),
                            toDecimal256(toDecimal256(price * qty, 18) * ifNull(contract_size, toDecimal256(1, 18)), 18))
                        COMMENT 'notional in the quote asset',
    base_qty            Decimal(76, 18) DEFAULT if(inverse, toDecimal256(quote / price, 18),
                            toDecimal256(qty * ifNull(contract_size, toDecimal256(1, 18)), 18))
                        COMMENT 'amount in base units',
    usd_rate            Nullable(Decimal(76, 18)) COMMENT 'USD per quote unit when the quote is a USD stablecoin',
    quote_usd           Nullable(Decimal(76, 18)) DEFAULT toDecimal256(quote * usd_rate, 18),
    whale_threshold_usd Decimal(38, 8) DEFAULT 10000 COMMENT 'the symbol''s whale threshold in USD',
    is_buyer_maker      Bool,
    side                LowCardinality(String) COMMENT 'taker side: buy or sell',
    is_whale            Bool DEFAULT ifNull(quote_usd >= whale_threshold_usd, false)
                        COMMENT 'whale at a stablecoin rate (whales also holds trades priced by reference)',
    trade_time          DateTime64(6, 'UTC') COMMENT 'exchange: when the trade happened',
    event_time          DateTime64(6, 'UTC') COMMENT 'exchange: when the event was sent',
    ingest_time         DateTime64(6, 'UTC') COMMENT 'ingest: when Argos received it',
    process_time        DateTime64(6, 'UTC') COMMENT 'Spark: when its micro-batch was processed',
    insert_time         DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'ClickHouse: when the row was written'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(trade_time)
ORDER BY (symbol, trade_time, trade_id)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.trades_v2 (venue, market, symbol, base, quote_asset, kind, trade_id, price, qty, usd_rate,
                            is_buyer_maker, side, trade_time, event_time, ingest_time, process_time, insert_time)
SELECT venue, market, symbol,
       extract(replaceRegexpOne(symbol, '_(PERP|[0-9]{6})$', ''),
               '^(.+?)(FDUSD|USDT|USDC|BUSD|TUSD|USDP|USDS|AEUR|EURI|DOGE|IDRT|BIDR|BKRW|BVND|GYEN|DAI|USD|PAX|UST|EUR|BTC|ETH|BNB|XRP|DOT|TRX|SOL|TRY|BRL|JPY|GBP|AUD|RUB|UAH|NGN|ZAR|PLN|RON|ARS|MXN|COP|IDR|VAI|CZK)$') AS base_asset,
       substring(replaceRegexpOne(symbol, '_(PERP|[0-9]{6})$', ''), length(base_asset) + 1) AS quote_of,
       if(market = 'spot', 'spot', 'perpetual'),
       trade_id, price, qty,
       if(quote_of IN ('USD', 'USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'USDP', 'DAI'), toDecimal256(1, 18), NULL),
       is_buyer_maker, side, trade_time, event_time, ingest_time, process_time, insert_time
FROM {db}.trades;

RENAME TABLE {db}.trades TO {db}.trades_v1, {db}.trades_v2 TO {db}.trades;

-- The last USD price of each asset per venue, from its spot trades against a USD stablecoin.
CREATE TABLE IF NOT EXISTS {db}.usd_rates
(
    venue  LowCardinality(String),
    asset  LowCardinality(String),
    rate   Decimal(76, 18) COMMENT 'USD per unit of asset',
    source LowCardinality(String) COMMENT 'the symbol whose last price gave the rate',
    time   DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (venue, asset)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usd_rates_mv TO {db}.usd_rates AS
SELECT venue, base AS asset,
       toDecimal256(argMax(price, (trade_time, trade_id)) * argMax(assumeNotNull(usd_rate), (trade_time, trade_id)), 18)
           AS rate,
       argMax(symbol, (trade_time, trade_id)) AS source,
       max(trade_time) AS time
FROM {db}.trades
WHERE kind = 'spot' AND usd_rate IS NOT NULL
GROUP BY venue, base;

INSERT INTO {db}.usd_rates
SELECT venue, base, toDecimal256(argMax(price, (trade_time, trade_id)) * argMax(assumeNotNull(usd_rate), (trade_time, trade_id)), 18),
       argMax(symbol, (trade_time, trade_id)), max(trade_time)
FROM {db}.trades
WHERE kind = 'spot' AND usd_rate IS NOT NULL
GROUP BY venue, base;

-- Candles: Decimal256 values, base_volume for VWAP, trades counted as the exchange counts them.
DROP TABLE IF EXISTS {db}.candles_1m;

CREATE TABLE {db}.candles_1m
(
    venue        LowCardinality(String),
    market       LowCardinality(String),
    symbol       LowCardinality(String),
    minute       DateTime('UTC'),
    open         AggregateFunction(argMin, Decimal(76, 18), Tuple(DateTime64(6, 'UTC'), UInt64)),
    high         SimpleAggregateFunction(max, Decimal(76, 18)),
    low          SimpleAggregateFunction(min, Decimal(76, 18)),
    close        AggregateFunction(argMax, Decimal(76, 18), Tuple(DateTime64(6, 'UTC'), UInt64)),
    volume       SimpleAggregateFunction(sum, Decimal(76, 18)) COMMENT 'sum of qty (venue units)',
    base_volume  SimpleAggregateFunction(sum, Decimal(76, 18)) COMMENT 'sum of base_qty',
    quote_volume SimpleAggregateFunction(sum, Decimal(76, 18)) COMMENT 'sum of quote (notional)',
    trades       SimpleAggregateFunction(sum, UInt64) COMMENT 'exchange trades (sum of trade_count)',
    rows         SimpleAggregateFunction(sum, UInt64) COMMENT 'records (aggTrades count once)'
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
    sum(base_qty)                               AS base_volume,
    sum(quote)                                  AS quote_volume,
    sum(toUInt64(trade_count))                  AS trades,
    count()                                     AS rows
FROM {db}.trades
GROUP BY venue, market, symbol, minute;

INSERT INTO {db}.candles_1m
SELECT venue, market, symbol, toStartOfMinute(trade_time) AS minute,
       argMinState(price, (trade_time, trade_id)), max(price), min(price), argMaxState(price, (trade_time, trade_id)),
       sum(qty), sum(base_qty), sum(quote), sum(toUInt64(trade_count)), count()
FROM {db}.trades
GROUP BY venue, market, symbol, minute;

-- Finalized candles; VWAP is plain Decimal256 division (room up to 1e40), right for inverse contracts too.
CREATE VIEW IF NOT EXISTS {db}.candles_1m_view AS
SELECT
    venue, market, symbol, minute,
    argMinMerge(open)                 AS open,
    max(high)                         AS high,
    min(low)                          AS low,
    argMaxMerge(close)                AS close,
    sum(volume)                       AS volume,
    sum(base_volume)                  AS base_volume,
    sum(quote_volume)                 AS quote_volume,
    sum(c.quote_volume) / sum(c.base_volume) AS vwap,
    sum(trades)                       AS trades,
    sum(rows)                         AS rows
FROM {db}.candles_1m AS c
GROUP BY venue, market, symbol, minute;

-- Flow: Decimal256 sums; trades counted as the exchange counts them.
DROP TABLE IF EXISTS {db}.flow_1m;

CREATE TABLE {db}.flow_1m
(
    venue       LowCardinality(String),
    market      LowCardinality(String),
    symbol      LowCardinality(String),
    minute      DateTime('UTC'),
    buy_volume  Decimal(76, 18),
    sell_volume Decimal(76, 18),
    buy_quote   Decimal(76, 18),
    sell_quote  Decimal(76, 18),
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
    sumIf(toUInt64(trade_count), side = 'buy')      AS buy_trades,
    sumIf(toUInt64(trade_count), side = 'sell')     AS sell_trades
FROM {db}.trades
GROUP BY venue, market, symbol, minute;

INSERT INTO {db}.flow_1m
SELECT venue, market, symbol, toStartOfMinute(trade_time) AS minute,
       sumIf(qty, side = 'buy'), sumIf(qty, side = 'sell'), sumIf(quote, side = 'buy'), sumIf(quote, side = 'sell'),
       sumIf(toUInt64(trade_count), side = 'buy'), sumIf(toUInt64(trade_count), side = 'sell')
FROM {db}.trades
GROUP BY venue, market, symbol, minute;

-- Whales in USD, with the rate used and where it came from (stablecoin, or the venue's <ASSET>USDT-like pair).
DROP TABLE IF EXISTS {db}.whales;

CREATE TABLE {db}.whales
(
    venue       LowCardinality(String),
    market      LowCardinality(String),
    symbol      LowCardinality(String),
    quote_asset LowCardinality(String),
    trade_id    UInt64,
    trade_time  DateTime64(6, 'UTC'),
    price       Decimal(76, 18),
    qty         Decimal(76, 18),
    quote       Decimal(76, 18) COMMENT 'notional in the quote asset',
    usd_rate    Decimal(76, 18) COMMENT 'USD per quote unit used',
    quote_usd   Decimal(76, 18) COMMENT 'notional in USD',
    rate_source LowCardinality(String) COMMENT 'stablecoin, or the symbol whose last price gave the rate',
    trade_count UInt32,
    side        LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(trade_time)
ORDER BY (trade_time, symbol, trade_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.whales_mv TO {db}.whales AS
SELECT venue, market, symbol, quote_asset, trade_id, trade_time, price, qty, quote, rate_used AS usd_rate,
       toDecimal256(quote * rate_used, 18) AS quote_usd, rate_from AS rate_source, trade_count, side
FROM (
    -- the venue's latest USD rate per asset as maps keyed 'venue:asset' (a scalar subquery, no join)
    WITH (SELECT (CAST((groupArray(key), groupArray(rate)), 'Map(String, Decimal(76, 18))'),
                  CAST((groupArray(key), groupArray(source)), 'Map(String, String)'))
          FROM (SELECT concat(venue, ':', asset) AS key, argMax(rate, time) AS rate, argMax(source, time) AS source
                FROM {db}.usd_rates GROUP BY venue, asset)) AS ref
    SELECT *, if(usd_rate IS NOT NULL, assumeNotNull(usd_rate), ref.1[concat(venue, ':', quote_asset)]) AS rate_used,
           if(usd_rate IS NOT NULL, 'stablecoin', ref.2[concat(venue, ':', quote_asset)]) AS rate_from
    FROM {db}.trades
)
WHERE rate_used > 0 AND quote * rate_used >= whale_threshold_usd;

INSERT INTO {db}.whales
SELECT venue, market, symbol, quote_asset, trade_id, trade_time, price, qty, quote, rate_used AS usd_rate,
       toDecimal256(quote * rate_used, 18) AS quote_usd, rate_from AS rate_source, trade_count, side
FROM (
    -- the venue's latest USD rate per asset as maps keyed 'venue:asset' (a scalar subquery, no join)
    WITH (SELECT (CAST((groupArray(key), groupArray(rate)), 'Map(String, Decimal(76, 18))'),
                  CAST((groupArray(key), groupArray(source)), 'Map(String, String)'))
          FROM (SELECT concat(venue, ':', asset) AS key, argMax(rate, time) AS rate, argMax(source, time) AS source
                FROM {db}.usd_rates GROUP BY venue, asset)) AS ref
    SELECT *, if(usd_rate IS NOT NULL, assumeNotNull(usd_rate), ref.1[concat(venue, ':', quote_asset)]) AS rate_used,
           if(usd_rate IS NOT NULL, 'stablecoin', ref.2[concat(venue, ':', quote_asset)]) AS rate_from
    FROM {db}.trades
)
WHERE rate_used > 0 AND quote * rate_used >= whale_threshold_usd;

-- Trades whose quote asset has no USD rate: not classed as whale or not, counted here for the dashboard.
CREATE TABLE IF NOT EXISTS {db}.unpriced_1m
(
    venue       LowCardinality(String),
    market      LowCardinality(String),
    symbol      LowCardinality(String),
    quote_asset LowCardinality(String),
    minute      DateTime('UTC'),
    trades      UInt64 COMMENT 'rows without a USD rate',
    quote       Decimal(76, 18) COMMENT 'their notional in the quote asset'
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (symbol, minute, venue, market, quote_asset)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.unpriced_1m_mv TO {db}.unpriced_1m AS
SELECT venue, market, symbol, quote_asset, toStartOfMinute(trade_time) AS minute, count() AS trades,
       sum(quote) AS quote
FROM {db}.trades
WHERE usd_rate IS NULL AND (venue, quote_asset) NOT IN (SELECT venue, asset FROM {db}.usd_rates WHERE rate > 0)
GROUP BY venue, market, symbol, quote_asset, minute;

INSERT INTO {db}.unpriced_1m
SELECT venue, market, symbol, quote_asset, toStartOfMinute(trade_time) AS minute, count(), sum(quote)
FROM {db}.trades
WHERE usd_rate IS NULL AND (venue, quote_asset) NOT IN (SELECT venue, asset FROM {db}.usd_rates WHERE rate > 0)
GROUP BY venue, market, symbol, quote_asset, minute;
