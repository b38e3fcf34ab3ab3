"""Pure DataFrame -> DataFrame transforms of the ETL: parse, validate, enrich.

Every input row comes out exactly once: either as a trade (``reason`` is null) or as a dead letter
(``reason`` says why, ``raw`` keeps the payload). Nothing is dropped silently, nothing raises.
"""

from __future__ import annotations

import operator
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType

from argos.contract import KINDS, MARKETS, QUOTE_ASSETS, WIRE_VERSIONS
from argos.settings import SYMBOL_PATTERN, USD_STABLECOINS, Settings

# The wire contract v2 (see argos.contract; v1 rows lack the fields after ingest_time). Explicit, never
# inferred. Prices stay strings until cast to exact decimals; raw venue field names never reach Spark.
WIRE_SCHEMA = StructType(
    [
        StructField("v", LongType()),
        StructField("venue", StringType()),
        StructField("market", StringType()),
        StructField("symbol", StringType()),
        StructField("trade_id", LongType()),
        StructField("price", StringType()),
        StructField("qty", StringType()),
        StructField("is_buyer_maker", BooleanType()),
        StructField("trade_time", LongType()),
        StructField("event_time", LongType()),
        StructField("ingest_time", LongType()),
        StructField("base", StringType()),
        StructField("quote_asset", StringType()),
        StructField("kind", StringType()),
        StructField("contract_size", StringType()),
        StructField("inverse", BooleanType()),
        StructField("first_trade_id", LongType()),
        StructField("last_trade_id", LongType()),
        StructField("trade_count", LongType()),
        StructField("reject", StringType()),
        StructField("raw", StringType()),
    ]
)
_CORRUPT = "_corrupt"  # from_json's corrupt-record column
REQUIRED = ("venue", "market", "symbol", "trade_id", "price", "qty", "is_buyer_maker", "trade_time", "event_time")
# Every instrument Binance lists (qty up to ~1e12, price down to 1e-10) fits below 1e20 with 18 decimals.
# Spark cannot multiply two of these exactly (38 digits at most), so ClickHouse computes the notional in
# Decimal256 (migration 0006); here a float estimate only guards that it stays far inside that range.
DECIMAL = "decimal(38,18)"
PRICE = QTY = DECIMAL
MAX_NOTIONAL = 1e30
THRESHOLD = "decimal(38,8)"
MAX_TRADE_COUNT = 2**31 - 1
_MORE_THAN_18_DECIMALS = r"\.[0-9]{19,}$"
# v1 rows: base and quote from the symbol, longest quote first (as argos.contract.split_symbol).
_PAIR = r"^(.+?)(" + "|".join(QUOTE_ASSETS) + r")$"
_ASSET = r"^[A-Z0-9]{1,20}$"
# Plausible exchange times: after 2009-01-01 and at most a day ahead of the row's arrival in Kafka/the spool.
_MIN_TIME_US = 1_230_768_000_000_000
_MAX_AHEAD_US = 86_400_000_000

# What the ETL writes; quote, base_qty, quote_usd and is_whale are computed by ClickHouse (column DEFAULTs).
TRADE_COLUMNS = (
    "venue", "market", "symbol", "base", "quote_asset", "kind", "contract_size", "inverse", "trade_id",
    "first_trade_id", "last_trade_id", "trade_count", "price", "qty", "usd_rate", "whale_threshold_usd",
    "is_buyer_maker", "side", "trade_time", "event_time", "ingest_time", "process_time",
)
DEAD_LETTER_COLUMNS = ("process_time", "source", "reason", "raw")
# What ``transform`` hands the writer (it stamps process_time): a trade's payload stays behind in Spark,
# only a dead letter carries it to the writer.
OUTPUT_COLUMNS = (*(c for c in TRADE_COLUMNS if c != "process_time"), "source", "reason", "raw")


def parse(raw: DataFrame) -> DataFrame:
    """``raw`` (string payload, ``source``, ``arrived``) -> wire fields plus ``reason`` (null for a trade).

    ``arrived`` is when the payload reached Argos's buffer (the Kafka record's time, the spool file's); static
    frames without it (tests) use the clock.
    """
    if "arrived" not in raw.columns:
        raw = raw.withColumn("arrived", F.current_timestamp())
    out = decode(raw)
    out = out.withColumn("price_dec", F.expr(f"try_cast(price AS {PRICE})"))
    out = out.withColumn("qty_dec", F.expr(f"try_cast(qty AS {QTY})"))
    out = out.withColumn("size_dec", F.expr(f"try_cast(contract_size AS {DECIMAL})"))
    out = _instrument_defaults(out)
    out = out.withColumn("reason", _reason())
    # A reject from the ingest carries the venue's original payload: keep that one, not our envelope.
    return out.withColumn(
        "raw", F.when(F.col("reject").isNotNull() & F.col("rejected_raw").isNotNull(), F.col("rejected_raw"))
        .otherwise(F.col("raw"))
    ).drop("rejected_raw", _CORRUPT)


def decode(raw: DataFrame) -> DataFrame:
    """``raw``, ``source``, ``arrived`` and the payload's wire fields, ``rejected_raw`` (a reject's venue payload)
    and ``_corrupt``, from one JSON parse.

    The corrupt-record column flags a payload Jackson could not read whole (bad JSON, or a field of the wrong
    type); only those rows are parsed again (``_reason``) to tell the two apart. This parse is most of the
    transform's cost: ~10 CPU-µs per 370-byte trade, and no other JSON path in Spark is cheaper (docs item 39).
    """
    schema = StructType([*WIRE_SCHEMA.fields, StructField(_CORRUPT, StringType())])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT, "allowSingleQuotes": "false"}
    parsed = raw.withColumn("w", F.from_json("raw", schema, options))
    fields = [F.col(f"w.{f.name}").alias(f.name) for f in schema.fields if f.name != "raw"]
    return parsed.select("raw", "source", "arrived", *fields, F.col("w.raw").alias("rejected_raw"))


def _instrument_defaults(df: DataFrame) -> DataFrame:
    """v1 rows (and v2 rows that leave them out): assets from the symbol, kind from the market, one trade."""
    pair = F.regexp_replace(F.regexp_replace("symbol", r"_(PERP|[0-9]{6})$", ""), "[-/]", "")
    return (
        df.withColumn("base", F.coalesce("base", F.nullif(F.regexp_extract(pair, _PAIR, 1), F.lit(""))))
        .withColumn("quote_asset", F.coalesce("quote_asset", F.nullif(F.regexp_extract(pair, _PAIR, 2), F.lit(""))))
        .withColumn("kind", F.coalesce("kind", F.when(F.col("market") == "spot", "spot")
                                       .when(F.col("symbol").rlike("_[0-9]{6}$"), "future").otherwise("perpetual")))
        .withColumn("inverse", F.coalesce("inverse", F.lit(False)))
        .withColumn("trade_count", F.coalesce("trade_count", F.lit(1).cast("long")))
    )


def _estimate(text: str, exact: str) -> Column:
    """A float estimate of a valid decimal, read from its text (scale-18 decimals convert slowly)."""
    return F.coalesce(F.expr(f"try_cast({text} AS double)"), F.col(exact).cast("double"))


def _notional_estimate() -> Column:
    size = F.coalesce(_estimate("contract_size", "size_dec"), F.lit(1.0))
    qty = _estimate("qty", "qty_dec")
    return F.when(F.col("inverse"), qty * size).otherwise(_estimate("price", "price_dec") * qty * size)


def _too_many_decimals(column: str) -> Column:
    # A dot and 19 digits need 20 characters: the length test spares the regex for every real price.
    return (F.length(column) >= 20) & F.col(column).rlike(_MORE_THAN_18_DECIMALS)


def _reason() -> Column:
    """The first reason a row is not a valid trade, or null."""
    first: Column | None = None  # one flat CASE WHEN: the first failed check wins, none is null
    for failed, reason in _checks():
        value = reason if isinstance(reason, Column) else F.lit(reason)
        first = F.when(failed, value) if first is None else first.when(failed, value)
    assert first is not None
    return first


def _checks() -> list[tuple[Column, Column | str]]:
    """(failed, reason) pairs, in the order they are reported."""
    # "Ahead" is measured from the row's arrival, not the batch's clock: the same row gets the same verdict
    # when a batch is replayed, and the batch timestamp (a new literal pasted into the generated Java code
    # each micro-batch) no longer recompiles the whole projection every batch (~300 ms).
    arrived_us = F.unix_micros("arrived")

    def implausible(column: str) -> Column:
        return (F.col(column) < _MIN_TIME_US) | (F.col(column) > arrived_us + _MAX_AHEAD_US)

    missing = F.concat_ws(", ", *[F.when(F.col(c).isNull(), F.lit(c)) for c in REQUIRED])  # built on failure only
    any_missing = reduce(operator.or_, [F.col(c).isNull() for c in REQUIRED])
    checks: list[tuple[Column, Column | str]] = [
        (F.col("raw").isNull() | (F.trim("raw") == ""), "empty payload"),
        (~F.trim("raw").startswith("{") | ~F.rtrim("raw").endswith("}")
         | (F.col(_CORRUPT).isNotNull() & F.expr("try_parse_json(raw)").isNull()), "not a JSON object"),
        (F.col("reject").isNotNull(), F.concat(F.lit("ingest: "), F.col("reject"))),
        (F.col("v").isNull() | ~F.col("v").isin(*WIRE_VERSIONS), "unsupported wire version (expected v=1 or 2)"),
        (any_missing, F.concat(F.lit("missing or mistyped field(s): "), missing)),
        (F.col(_CORRUPT).isNotNull(), "mistyped optional field (a value of the wrong JSON type)"),
        (~F.col("market").isin(*MARKETS), F.concat(F.lit("unknown market: "), F.col("market"))),
        (~F.col("symbol").rlike(SYMBOL_PATTERN), F.concat(F.lit("bad symbol format: "), F.col("symbol"))),
        (F.col("base").isNull() | F.col("quote_asset").isNull(),
         F.concat(F.lit("cannot tell base and quote asset of symbol: "), F.col("symbol"))),
        (~F.col("base").rlike(_ASSET) | ~F.col("quote_asset").rlike(_ASSET),
         F.concat(F.lit("bad asset: "), F.col("base"), F.lit("/"), F.col("quote_asset"))),
        (~F.col("kind").isin(*KINDS), F.concat(F.lit("unknown kind: "), F.col("kind"))),
        (F.col("trade_id") < 0, "negative trade_id"),
        (_too_many_decimals("price"), F.concat(F.lit("price has more than 18 decimals: "), "price")),
        (F.col("price_dec").isNull(), F.concat(F.lit("price not a decimal below 1e20: "), "price")),
        (F.col("price_dec") <= 0, F.concat(F.lit("price not positive: "), "price")),
        (_too_many_decimals("qty"), F.concat(F.lit("qty has more than 18 decimals: "), "qty")),
        (F.col("qty_dec").isNull(), F.concat(F.lit("qty not a decimal below 1e20: "), "qty")),
        (F.col("qty_dec") <= 0, F.concat(F.lit("qty not positive: "), "qty")),
        (F.col("contract_size").isNotNull() & (F.col("size_dec").isNull() | (F.col("size_dec") <= 0)
                                               | _too_many_decimals("contract_size")),
         F.concat(F.lit("contract_size not a positive decimal below 1e20: "), "contract_size")),
        (F.col("inverse") & F.col("contract_size").isNull(), "inverse contract without contract_size"),
        (_notional_estimate() >= MAX_NOTIONAL, "notional out of range (>= 1e30)"),
        (F.col("trade_count") < 1, "trade_count below 1"),
        # Stored as UInt32; ANSI casts raise on overflow, so an absurd count must be a dead letter, not a crash.
        (F.col("trade_count") > MAX_TRADE_COUNT, F.concat(F.lit("trade_count out of range: "), "trade_count")),
        (F.col("first_trade_id").isNull() != F.col("last_trade_id").isNull(),
         "first_trade_id and last_trade_id come together"),
        (F.col("first_trade_id").isNotNull()
         & ((F.col("first_trade_id") < 0) | (F.col("last_trade_id") < F.col("first_trade_id"))
            | (F.col("trade_count") - 1 != F.col("last_trade_id") - F.col("first_trade_id"))),  # no +1 overflow
         "trade_count disagrees with first_trade_id..last_trade_id"),
        (implausible("trade_time"), "trade_time out of range (expect epoch microseconds)"),
        (implausible("event_time"), "event_time out of range (expect epoch microseconds)"),
        (F.col("ingest_time").isNotNull() & implausible("ingest_time"), "ingest_time out of range"),
    ]
    return checks


def _threshold_rank(key: str) -> int:
    return 2 if ":" in key else 1 if key.islower() else 0


def _threshold_match(key: str) -> Column:
    """The rows a ``whale_thresholds`` key covers: ``BTCUSDT``, ``bybit`` or ``bybit:BTCUSDT``."""
    if ":" in key:
        venue, symbol = key.split(":", 1)
        return (F.col("venue") == venue.lower()) & (F.col("symbol") == symbol)
    return F.col("venue") == key if key.islower() else F.col("symbol") == key


def _usd(value: float) -> Column:
    """A threshold literal; anything beyond 1e20 USD means "never" and is capped (an ANSI cast would raise)."""
    return F.lit(min(float(value), 1e20)).cast(THRESHOLD)


def enrich(df: DataFrame, whale_threshold_usd: float, whale_thresholds: dict[str, float],
           usd_stablecoins: tuple[str, ...] = USD_STABLECOINS) -> DataFrame:
    """Add exact decimals, taker side, the USD rate of stablecoin quotes, the symbol's whale threshold in USD
    and timestamps (to valid rows only). ClickHouse derives notional, USD value and whales; the writer stamps
    ``process_time``."""
    threshold = _usd(whale_threshold_usd)
    # Keys: SYMBOL, a venue (every symbol of it: "okx") or venue:SYMBOL; the most specific one wins.
    for key, value in sorted(whale_thresholds.items(), key=lambda kv: (_threshold_rank(kv[0]), kv[0])):
        threshold = F.when(_threshold_match(key), _usd(value)).otherwise(threshold)
    valid = F.col("reason").isNull()

    def derived(value: Column) -> Column:
        return F.when(valid, value)

    return (
        df.withColumn("price", derived(F.col("price_dec").cast(DECIMAL)))
        .withColumn("qty", derived(F.col("qty_dec").cast(DECIMAL)))
        .withColumn("contract_size", derived(F.col("size_dec")))
        .withColumn("trade_count", derived(F.col("trade_count").cast("int")))
        .withColumn("side", derived(F.when(F.col("is_buyer_maker"), "sell").otherwise("buy")))
        .withColumn("usd_rate", derived(F.when(F.col("quote_asset").isin(*usd_stablecoins), F.lit(1).cast(DECIMAL))))
        .withColumn("whale_threshold_usd", derived(threshold))
        .withColumn("ingest_time", derived(F.timestamp_micros(F.coalesce("ingest_time", "event_time"))))
        .withColumn("trade_time", derived(F.timestamp_micros("trade_time")))
        .withColumn("event_time", derived(F.timestamp_micros("event_time")))
        .drop("price_dec", "qty_dec", "size_dec")
    )


def transform(raw: DataFrame, settings: Settings) -> DataFrame:
    """The whole pipeline after the source: parse -> validate -> enrich.

    Stateless: re-sent trades are dropped at the write against what ClickHouse holds (``argos_etl.dedup``),
    so no watermark or clock decides what is a duplicate. Only the writer's columns leave (``OUTPUT_COLUMNS``).
    """
    out = enrich(parse(raw), settings.whale_threshold_usd, settings.whale_thresholds)
    out = out.withColumn("raw", F.when(F.col("reason").isNotNull(), F.col("raw")))
    return out.select(*OUTPUT_COLUMNS)
