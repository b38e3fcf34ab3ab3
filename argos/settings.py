"""All configuration in one place: defaults < YAML file < environment (``ARGOS_*``) < CLI flags.

Nested keys use ``__`` in the environment: ``kafka.bootstrap`` is ``ARGOS_KAFKA__BOOTSTRAP``.
A YAML file is read from ``--config`` or ``ARGOS_CONFIG``. Errors name the key and the fix.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# Venue-native symbols: BTCUSDT (Binance, Bybit), BTC-USD (Coinbase), BTC-USDT-SWAP (OKX),
# BTCUSD_PERP / ETHUSD_210924 / BTCUSDT_210924 (Binance coin-M and dated futures).
SYMBOL_PATTERN = r"^[A-Z0-9]{1,20}([-_][A-Z0-9]{1,20}){0,3}$"
# Quote assets counted as one US dollar for whale sizing (any other quote is priced by its <ASSET>USDT trades).
USD_STABLECOINS: tuple[str, ...] = ("USD", "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USDP", "DAI")
VENUES: tuple[str, ...] = ("binance", "coinbase", "okx", "bybit")
# A micro-batch's default cap. Each Kafka partition's offset range costs a batch a fixed few ms (a poll, two offset
# lookups, two generated projections), so a topic of many partitions gets 4,000 rows per partition: at 256
# partitions a 300k-trade backlog drained at 0.75 of one partition's rate in 200k-row batches, 0.88 in one batch
# (docs/benchmarks item 37). Where executors write, at most 200,000 rows per write partition: a Python worker holds
# its partition whole, ~0.8 KB a row at its peak (an 860k-row partition took 834 MiB, beyond the chart's 768 MiB
# executor overhead; item 41). Where the driver writes, at most 400,000: it collects the whole batch, and a
# 1,024,000-row one ran Spark's default 1 GiB heap out of memory (item 39) where 400,000-row ones drained in 768 MiB
# (item 43).
BATCH_RECORDS, BATCH_RECORDS_PER_PARTITION, DRIVER_BATCH_RECORDS = 200_000, 4_000, 400_000
# Generated code costs a micro-batch a few ms per Kafka partition (each partition's reader generates two projections)
# on top of ~50 ms per task; below ~100 rows per partition interpreting is cheaper: at 5k/s over 256 partitions
# (~20-30 rows each) p50 was lower in 5 of 6 warm A/B pairs (by 8-28%), over 64 in 2 of 3; at 15k/s over 256
# (~120-230 rows each) no gain (docs/benchmarks item 47).
INTERPRETED_ROWS_PER_PARTITION = 100


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key and the fix."""


def _mapping(value: Any) -> Any:
    """Accept a mapping as JSON or as ``key=value,key=value`` (handy in env vars and CLI flags)."""
    if not isinstance(value, str):
        return value
    if value.strip().startswith("{"):
        return orjson.loads(value)
    pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
    if any(len(p) != 2 for p in pairs):
        raise ValueError("expected JSON or key=value,key=value")
    return {k.strip(): v.strip() for k, v in pairs}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KafkaSettings(_Section):
    bootstrap: str = Field("localhost:9092", description="Kafka bootstrap servers, comma-separated.")
    topic: str = Field("argos.trades", description="Topic that carries wire-format trades.")
    partitions: int = Field(
        3, ge=1, description="Partitions of the topic (when Argos creates it); also sizes Spark's Kafka consumer pool "
        "and, with spark.kafka_reader=spark, its prefetch wait."
    )
    replication_factor: int = Field(1, ge=1, description="Replication factor when Argos creates the topic.")
    create_topic: bool = Field(
        True, description="Create the topic when it is missing; false waits for its owner to create it (on Kubernetes "
        "the chart's KafkaTopic, made by Strimzi's Topic Operator).",
    )
    security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
    delivery_timeout_ms: int = Field(
        120_000, ge=1_000, description="How long a record may wait for the brokers before it counts as not "
        "delivered: the ingest then stops (and resumes after the topic's tail when restarted).",
    )


class ClickHouseSettings(_Section):
    url: str = Field(
        "",
        description="http(s)://host:8123 for a server, chdb:///dir for the embedded engine "
        "(empty: chdb://<data_dir>/clickhouse).",
    )
    database: str = Field("argos", pattern=r"^[a-z_][a-z0-9_]*$", description="Database Argos owns.")
    user: str = Field("default", description="ClickHouse user (server only).")
    password: SecretStr = Field(SecretStr(""), description="ClickHouse password; set it from a Secret/env.")
    cluster: str = Field("", description="Cluster name for replicated schema (empty: single node).")
    cluster_hosts: int = Field(
        0, ge=0, description="Hosts the cluster must list before the schema is created on it (shards × replicas; "
        "0: do not wait). A host missing from the cluster when the DDL runs never creates the database.",
    )
    insert_retries: int = Field(8, ge=0, description="Retries of a failed insert, with exponential backoff.")


class SparkSettings(_Section):
    master: str = Field("local[*]", description="Spark master; empty keeps what spark-submit set.")
    source: Literal["kafka", "spool"] = Field("spool", description="Where the ETL reads trades from.")
    checkpoint_dir: str = Field("", description="Streaming checkpoint dir (empty: <data_dir>/checkpoints).")
    trigger_seconds: float = Field(
        0.0, ge=0, description="Micro-batch trigger interval; 0 starts the next batch as soon as one ends "
        "(lowest latency; an idle query polls its source every 10 ms)."
    )
    max_records_per_batch: int = Field(
        0, ge=0, description="Cap per micro-batch (backlog drains); 0: 200,000, or 4,000 per Kafka partition where "
        "that is more, up to 200,000 per write partition where executors write and 400,000 where the driver does "
        "(each partition's offset range costs a batch a fixed few ms, whatever its size; a driver that writes holds "
        "the whole batch, a Python worker its write partition).",
    )
    shuffle_partitions: int = Field(2, ge=1, description="Executor-mode write partitions.")
    kafka_reader: Literal["grouped", "spark"] = Field(
        "grouped", description="How Spark reads Kafka: 'grouped', Argos' reader (spark-jobs/kafka-reader), where "
        "each read task polls all of its partitions through one consumer; 'spark', Spark's own Kafka source, a reader "
        "per partition (a fixed cost per partition and micro-batch).",
    )
    read_tasks: int = Field(
        0, ge=0, description="Spark tasks that read one micro-batch from Kafka (its partitions shared out among "
        "them); 0: one per core (spark.default.parallelism).",
    )
    interpreted_below_rows: int = Field(
        1_000, ge=0, description="A micro-batch that follows one of fewer rows evaluates its expressions interpreted "
        "(generating their code costs each task ~50 ms, more than interpreting a few hundred rows), raised to 100 "
        "rows per partition of a Kafka source where that is more (each partition's reader generates code too); "
        "bigger ones, and a query's first, run generated code. 0: leave Spark's choice alone.",
    )
    dedup: bool = Field(
        True, description="Drop trades whose (venue, market, symbol, trade_id) ClickHouse already holds, however "
        "old (no window, no clock); off only for benchmarks.",
    )
    write_mode: Literal["auto", "driver", "executors"] = Field(
        "auto",
        description="Who inserts into ClickHouse: executors per partition (servers) or the driver "
        "(the embedded engine, owned by one process). auto picks by URL.",
    )
    driver_write_threads: int = Field(
        2, ge=1, description="Where the driver writes: concurrent inserts of one big batch, its trades split by "
        "trade id (the embedded engine pushes an insert through the table and its views in one thread, so one "
        "insert leaves a core idle). 1: one insert per batch.",
    )
    driver_write_part_rows: int = Field(
        10_000, ge=1, description="Fewest trades per concurrent insert where the driver writes: smaller batches, a "
        "live stream's, go in whole (two small inserts cost more than one).",
    )
    jars: str = Field(
        "", description="Comma-separated Kafka connector jars (empty: resolved from Maven Central once, cached)."
    )
    conf: dict[str, str] = Field({}, description="Extra Spark configuration, e.g. {spark.ui.enabled: 'false'}.")

    _split_conf = field_validator("conf", mode="before")(classmethod(lambda cls, v: _mapping(v)))


class IngestSettings(_Section):
    source: Literal["synthetic", "live", "binance", "replay"] = Field(
        "synthetic", description="Trade source: synthetic, live (the venues below), binance (= live Binance), replay."
    )
    venues: list[str] = Field(
        ["binance"], description="Venues of the live and synthetic sources: binance, coinbase, okx, bybit."
    )
    sink: Literal["spool", "kafka"] = Field("spool", description="Where ingested trades go.")
    symbols: list[str] = Field(
        ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        description="Symbols, comma-separated in env/CLI. A pair (BTCUSDT) is streamed on every venue in its "
        "spelling (Coinbase: BTC-USD); venue:SYMBOL (okx:BTC-USDT-SWAP) on that venue only.",
    )
    markets: list[str] = Field(
        ["spot"], description="Markets: binance spot|usdm, coinbase spot, okx spot|swap, bybit spot|linear; "
        "venue:market for one venue. A venue with none of them streams spot."
    )
    rate: float = Field(200.0, gt=0, description="Synthetic: mean trades per second over all symbols.")
    seed: int | None = Field(None, description="Synthetic: random seed (reproducible runs).")
    replay_path: str = Field("", description="Replay: Binance dump file (.csv or .zip).")
    replay_symbol: str = Field("", description="Replay: symbol of the dump (default: from file name).")
    replay_speed: float = Field(0.0, ge=0, description="Replay: 1 = recorded speed, 10 = 10x, 0 = max.")
    replay_market: Literal["", "spot", "usdm", "coinm"] = Field(
        "", description="Replay: Binance market of the dump (empty: from its layout, header and symbol)."
    )
    binance_ws_url: str = Field("wss://stream.binance.com:9443", description="Binance spot WS base.")
    binance_rest_url: str = Field("https://api.binance.com", description="Binance spot REST base.")
    binance_futures_ws_url: str = Field("wss://fstream.binance.com/market", description="USD-M WS base.")
    binance_futures_rest_url: str = Field("https://fapi.binance.com", description="USD-M REST base.")
    binance_coinm_ws_url: str = Field("wss://dstream.binance.com", description="Binance coin-M WS base.")
    binance_coinm_rest_url: str = Field("https://dapi.binance.com", description="Binance coin-M REST base.")
    coinbase_ws_url: str = Field("wss://ws-feed.exchange.coinbase.com", description="Coinbase Exchange feed.")
    coinbase_rest_url: str = Field("https://api.exchange.coinbase.com", description="Coinbase Exchange REST.")
    okx_ws_url: str = Field("wss://ws.okx.com:8443/ws/v5/public", description="OKX v5 public WS.")
    okx_rest_url: str = Field("https://www.okx.com", description="OKX REST base.")
    bybit_ws_url: str = Field("wss://stream.bybit.com/v5/public", description="Bybit v5 public WS (+ /<category>).")
    bybit_rest_url: str = Field("https://api.bybit.com", description="Bybit REST base.")
    reconnect_after_seconds: float = Field(
        23 * 3600, gt=0, description="Reconnect proactively before Binance's 24 h cut."
    )
    http_port: int = Field(9108, ge=0, le=65535, description="Health and /metrics port (0: off).")
    http_host: str = Field(
        "127.0.0.1", description="Address /metrics and the probes bind to (a pod sets 0.0.0.0 for the kubelet)."
    )
    resume: bool = Field(
        True, description="On start, continue each symbol after the newest trade id already stored (Kafka tail, "
        "ClickHouse, or the spool's positions file) and backfill the ids missed while down.",
    )
    backfill_horizon: int = Field(
        100_000, ge=0, description="Most trade ids backfilled over REST for one gap; older ones are counted as "
        "unrecoverable (argos_ingest_unrecoverable_trades_total) instead of holding the stream for hours.",
    )

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [s for s in value.split(",") if s.strip()]
        return [str(s).strip().upper() for s in value]

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.match(SYMBOL_PATTERN, s.split(":", 1)[-1])
               or (":" in s and s.split(":", 1)[0].lower() not in VENUES)]
        if bad or not value:
            raise ValueError(f"symbols must be like BTCUSDT, BTC-USD or okx:BTC-USDT-SWAP; got {bad or 'none'}")
        return [f"{s.split(':', 1)[0].lower()}:{s.split(':', 1)[1]}" if ":" in s else s for s in value]

    @field_validator("markets", "venues", mode="before")
    @classmethod
    def _split_markets(cls, value: Any) -> Any:
        return [s.strip().lower() for s in value.split(",") if s.strip()] if isinstance(value, str) else value

    @field_validator("venues")
    @classmethod
    def _check_venues(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in VENUES]
        if bad or not value:
            raise ValueError(f"venues must be some of {', '.join(VENUES)}; got {bad or 'none'}")
        return list(dict.fromkeys(value))

    @field_validator("markets")
    @classmethod
    def _check_markets(cls, value: list[str]) -> list[str]:
        known = {"spot", "usdm", "coinm", "swap", "linear"}
        bad = [m for m in value if m.split(":", 1)[-1] not in known
               or (":" in m and m.split(":", 1)[0] not in VENUES)]
        if bad or not value:
            raise ValueError(f"markets must be some of {', '.join(sorted(known))} (venue:market for one venue); "
                             f"got {bad or 'none'}")
        return value


class Settings(BaseSettings):
    """Argos configuration."""

    model_config = SettingsConfigDict(
        env_prefix="ARGOS_", env_nested_delimiter="__", extra="forbid", validate_default=True,
        enable_decoding=False,
    )

    data_dir: Path = Field(Path("data"), description="Embedded default: spool, checkpoints, database.")
    whale_threshold_usd: float = Field(10_000, gt=0, description="Notional in USD that makes a whale.")
    whale_thresholds: dict[str, float] = Field(
        {}, description="Per-symbol whale thresholds in USD, e.g. {BTCUSDT: 100000, XRPETH: 20000}."
    )
    _split_whales = field_validator("whale_thresholds", mode="before")(classmethod(lambda cls, v: _mapping(v)))

    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    spark: SparkSettings = SparkSettings()
    ingest: IngestSettings = IngestSettings()

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def checkpoint_dir(self) -> str:
        return self.spark.checkpoint_dir or str(self.data_dir.resolve() / "checkpoints")

    @property
    def max_records_per_batch(self) -> int:
        """The micro-batch cap: as set, else 200,000 rows, raised to 4,000 per partition of a Kafka source up to
        200,000 per write partition where executors write, 400,000 where the driver does."""
        if self.spark.max_records_per_batch:
            return self.spark.max_records_per_batch
        if self.spark.source != "kafka":
            return BATCH_RECORDS
        most = DRIVER_BATCH_RECORDS if self.writes_from_driver else BATCH_RECORDS * self.spark.shuffle_partitions
        return max(BATCH_RECORDS, min(BATCH_RECORDS_PER_PARTITION * self.kafka.partitions, most))

    @property
    def interpreted_below(self) -> int:
        """Rows below which the next micro-batch runs interpreted: ``spark.interpreted_below_rows``, raised to 100
        per partition of a Kafka source; 0 stays 0 (Spark's choice)."""
        floor = self.spark.interpreted_below_rows
        if not floor or self.spark.source != "kafka":
            return floor
        return max(floor, INTERPRETED_ROWS_PER_PARTITION * self.kafka.partitions)

    @property
    def writes_from_driver(self) -> bool:
        """True when the driver inserts each whole micro-batch (the embedded engine, or ``write_mode=driver``)."""
        return self.spark.write_mode == "driver" or (self.spark.write_mode == "auto" and self.embedded)

    @property
    def clickhouse_url(self) -> str:
        return self.clickhouse.url or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def embedded(self) -> bool:
        """True when the database is the in-process engine (one owner process)."""
        return self.clickhouse_url.startswith("chdb://")

    def whale_threshold(self, symbol: str) -> float:
        return self.whale_thresholds.get(symbol, self.whale_threshold_usd)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _YamlSource(settings_cls)


_config_file: ContextVar[str | None] = ContextVar("argos_config_file", default=None)


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file given to load_settings, else ARGOS_CONFIG (lowest priority after defaults)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get() or os.environ.get("ARGOS_CONFIG")
        if not path:
            return {}
        given = f"--config {path}" if _config_file.get() else f"ARGOS_CONFIG={path}"
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{given}: cannot read ({exc.strerror}). Fix: point it at a YAML file.") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{given}: top level must be a mapping of settings.")
        return data


def env_name(loc: tuple[Any, ...]) -> str:
    """ARGOS_* environment variable for a settings key path."""
    return "ARGOS_" + "__".join(str(p).upper() for p in loc)


def _given(overrides: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    """True when ``overrides`` (the command line's values) hold the key at ``loc``."""
    node: Any = overrides
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings; raise ConfigError that names each bad key, where it is set and how to fix it.

    ``overrides`` are CLI values as nested dicts, e.g. ``ingest={"symbols": "btcusdt"}``.
    """
    overrides = {k: v for k, v in overrides.items() if v not in (None, {})}
    token = _config_file.set(str(config) if config else None)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not isinstance(p, int))
            key = ".".join(str(p) for p in loc)
            got = f" (got {err['input']!r})" if err["type"] != "missing" else ""
            if err["type"] == "extra_forbidden":
                hint = f"remove '{key}'; it is not an Argos setting"
            elif _given(overrides, loc):  # a command-line option: it overrides env and YAML, so fix it there
                hint = f"correct the command-line option that sets '{key}'"
            else:
                hint = f"set {env_name(loc)} or '{key}' in the YAML config"
            lines.append(f"  {key}: {err['msg']}{got}. Fix: {hint}.")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
    finally:
        _config_file.reset(token)
