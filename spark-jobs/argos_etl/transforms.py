"""Pure DataFrame -> DataFrame transforms of the ETL: parse, validate, enrich.

Every input row comes out exactly once: either as a trade (``reason`` is null) or as a dead letter
(``reason`` says why, ``raw`` keeps the payload). Nothing is dropped silently, nothing raises.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType

from argos.contract import WIRE_VERSIONS
from argos.settings import SYMBOL_PATTERN, Settings

# The wire contract v1 (see argos.contract). Explicit, never inferred. Prices stay strings until cast
# to exact decimals; raw Binance field names never reach Spark, so case-insensitive names cannot collide.
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
        StructField("reject", StringType()),
        StructField("raw", StringType()),
    ]
)
REQUIRED = ("venue", "market", "symbol", "trade_id", "price", "qty", "is_buyer_maker", "trade_time", "event_time")
DECIMAL = "decimal(38,18)"
# Exact arithmetic: price x qty in these types fits decimal(38,17), so the quote never rounds or overflows.
PRICE, QTY = "decimal(20,10)", "decimal(18,8)"
# Plausible exchange times: after 2009-01-01 and at most a day ahead of the processing clock.
_MIN_TIME_US = 1_230_768_000_000_000
_MAX_AHEAD_US = 86_400_000_000

TRADE_COLUMNS = (
    "venue", "market", "symbol", "trade_id", "price", "qty", "quote", "is_buyer_maker", "side", "is_whale",
    "trade_time", "event_time", "ingest_time", "process_time",
)
DEAD_LETTER_COLUMNS = ("process_time", "source", "reason", "raw")


def parse(raw: DataFrame) -> DataFrame:
    """``raw`` (string payload, ``source``) -> wire fields plus ``reason`` (null when the row is a trade)."""
    parsed = raw.withColumn("w", F.from_json("raw", WIRE_SCHEMA, {"mode": "PERMISSIVE"}))
    fields = [F.col(f"w.{f.name}").alias(f.name) for f in WIRE_SCHEMA.fields if f.name != "raw"]
    out = parsed.select("raw", "source", *fields, F.col("w.raw").alias("rejected_raw"))
    out = out.withColumn("price_dec", F.expr(f"try_cast(price AS {PRICE})"))
    out = out.withColumn("qty_dec", F.expr(f"try_cast(qty AS {QTY})"))
    out = out.withColumn("quote_dec", (F.col("price_dec") * F.col("qty_dec")).cast(DECIMAL))  # < 1e20: fits
    out = out.withColumn("reason", _reason(out))
    # A reject from the ingest carries the venue's original payload: keep that one, not our envelope.
    return out.withColumn(
        "raw", F.when(F.col("reject").isNotNull() & F.col("rejected_raw").isNotNull(), F.col("rejected_raw"))
        .otherwise(F.col("raw"))
    ).drop("rejected_raw")


def _reason(df: DataFrame) -> Column:
    """The first reason a row is not a valid trade, or null."""
    now_us = F.unix_micros(F.current_timestamp())

    def implausible(column: str) -> Column:
        return (F.col(column) < _MIN_TIME_US) | (F.col(column) > now_us + _MAX_AHEAD_US)

    missing = F.concat_ws(", ", *[F.when(F.col(c).isNull(), F.lit(c)) for c in REQUIRED])
    checks: list[tuple[Column, Column | str]] = [
        (F.col("raw").isNull() | (F.trim("raw") == ""), "empty payload"),
        (F.expr("try_parse_json(raw)").isNull() | ~F.trim("raw").startswith("{"), "not a JSON object"),
        (F.col("reject").isNotNull(), F.concat(F.lit("ingest: "), F.col("reject"))),
        (F.col("v").isNull() | ~F.col("v").isin(*WIRE_VERSIONS), "unsupported wire version (expected v=1 or 2)"),
        (F.length(missing) > 0, F.concat(F.lit("missing or mistyped field(s): "), missing)),
        (~F.col("market").isin("spot", "usdm"), F.concat(F.lit("unknown market: "), F.col("market"))),
        (~F.col("symbol").rlike(SYMBOL_PATTERN), F.concat(F.lit("bad symbol format: "), F.col("symbol"))),
        (F.col("trade_id") < 0, "negative trade_id"),
        (F.col("price_dec").isNull(), F.concat(F.lit("price not a decimal below 1e10: "), "price")),
        (F.col("price_dec") <= 0, F.concat(F.lit("price not positive: "), "price")),
        (F.col("qty_dec").isNull(), F.concat(F.lit("qty not a decimal below 1e10: "), "qty")),
        (F.col("qty_dec") <= 0, F.concat(F.lit("qty not positive: "), "qty")),
        (implausible("trade_time"), "trade_time out of range (expect epoch microseconds)"),
        (implausible("event_time"), "event_time out of range (expect epoch microseconds)"),
        (F.col("ingest_time").isNotNull() & implausible("ingest_time"), "ingest_time out of range"),
    ]
    first: Column = F.lit(None).cast("string")
    for failed, reason in reversed(checks):
        first = F.when(failed, reason if isinstance(reason, Column) else F.lit(reason)).otherwise(first)
    return first


def trade_key() -> Column:
    """A trade's identity, (venue, market, symbol, trade_id); null for a dead letter."""
    return F.when(
        F.col("reason").isNull(), F.concat_ws("|", "venue", "market", "symbol", F.col("trade_id").cast("string"))
    )


def enrich(df: DataFrame, whale_threshold_usd: float, whale_thresholds: dict[str, float]) -> DataFrame:
    """Add quote value, taker side, whale flag, timestamps and processing time (to valid rows only)."""
    threshold = F.lit(whale_threshold_usd)
    for symbol, value in sorted(whale_thresholds.items()):
        threshold = F.when(F.col("symbol") == symbol, F.lit(value)).otherwise(threshold)
    valid = F.col("reason").isNull()

    def derived(value: Column) -> Column:
        return F.when(valid, value)

    return (
        df.withColumn("price", derived(F.col("price_dec").cast(DECIMAL)))
        .withColumn("qty", derived(F.col("qty_dec").cast(DECIMAL)))
        .withColumn("quote", derived(F.col("quote_dec")))
        .withColumn("side", derived(F.when(F.col("is_buyer_maker"), "sell").otherwise("buy")))
        .withColumn("is_whale", F.coalesce(derived(F.col("quote") >= threshold), F.lit(False)))
        .withColumn("ingest_time", derived(F.timestamp_micros(F.coalesce("ingest_time", "event_time"))))
        .withColumn("trade_time", derived(F.timestamp_micros("trade_time")))
        .withColumn("event_time", derived(F.timestamp_micros("event_time")))
        .withColumn("process_time", F.current_timestamp())
        .drop("price_dec", "qty_dec", "quote_dec")
    )


def transform(raw: DataFrame, settings: Settings) -> DataFrame:
    """The whole pipeline after the source: parse -> validate -> enrich.

    Stateless: re-sent trades are dropped at the write against what ClickHouse holds (``argos_etl.dedup``),
    so no watermark or clock decides what is a duplicate.
    """
    return enrich(parse(raw), settings.whale_threshold_usd, settings.whale_thresholds)
