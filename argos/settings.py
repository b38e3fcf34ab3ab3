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

SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}$"


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
    partitions: int = Field(3, ge=1, description="Partitions when Argos creates the topic.")
    replication_factor: int = Field(1, ge=1, description="Replication factor when Argos creates the topic.")
    security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")


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
    insert_retries: int = Field(8, ge=0, description="Retries of a failed insert, with exponential backoff.")


class SparkSettings(_Section):
    master: str = Field("local[*]", description="Spark master; empty keeps what spark-submit set.")
    source: Literal["kafka", "spool"] = Field("spool", description="Where the ETL reads trades from.")
    checkpoint_dir: str = Field("", description="Streaming checkpoint dir (empty: <data_dir>/checkpoints).")
    trigger_seconds: float = Field(1.0, gt=0, description="Micro-batch trigger interval.")
    max_records_per_batch: int = Field(200_000, ge=1, description="Cap per micro-batch (backlog drains).")
    shuffle_partitions: int = Field(2, ge=1, description="spark.sql.shuffle.partitions for de-duplication.")
    dedup_window_seconds: int = Field(
        600, ge=0, description="Drop re-sent trade ids seen within this window of ingest time (0: off)."
    )
    write_mode: Literal["auto", "driver", "executors"] = Field(
        "auto",
        description="Who inserts into ClickHouse: executors per partition (servers) or the driver "
        "(the embedded engine, owned by one process). auto picks by URL.",
    )
    jars: str = Field(
        "", description="Comma-separated Kafka connector jars (empty: resolved from Maven Central once, cached)."
    )
    conf: dict[str, str] = Field({}, description="Extra Spark configuration, e.g. {spark.ui.enabled: 'false'}.")

    _split_conf = field_validator("conf", mode="before")(classmethod(lambda cls, v: _mapping(v)))


class IngestSettings(_Section):
    source: Literal["synthetic", "binance", "replay"] = Field("synthetic", description="Trade source.")
    sink: Literal["spool", "kafka"] = Field("spool", description="Where ingested trades go.")
    symbols: list[str] = Field(
        ["BTCUSDT", "ETHUSDT", "SOLUSDT"], description="Symbols, comma-separated in env/CLI."
    )
    markets: list[Literal["spot", "usdm"]] = Field(["spot"], description="Binance markets to stream.")
    rate: float = Field(200.0, gt=0, description="Synthetic: mean trades per second over all symbols.")
    seed: int | None = Field(None, description="Synthetic: random seed (reproducible runs).")
    replay_path: str = Field("", description="Replay: Binance dump file (.csv or .zip).")
    replay_symbol: str = Field("", description="Replay: symbol of the dump (default: from file name).")
    replay_speed: float = Field(0.0, ge=0, description="Replay: 1 = recorded speed, 10 = 10x, 0 = max.")
    binance_ws_url: str = Field("wss://stream.binance.com:9443", description="Binance spot WS base.")
    binance_rest_url: str = Field("https://api.binance.com", description="Binance spot REST base.")
    binance_futures_ws_url: str = Field("wss://fstream.binance.com/market", description="USD-M WS base.")
    binance_futures_rest_url: str = Field("https://fapi.binance.com", description="USD-M REST base.")
    reconnect_after_seconds: float = Field(
        23 * 3600, gt=0, description="Reconnect proactively before Binance's 24 h cut."
    )
    http_port: int = Field(9108, ge=0, le=65535, description="Health and /metrics port (0: off).")

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [s for s in value.split(",") if s.strip()]
        return [str(s).strip().upper() for s in value]

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.match(SYMBOL_PATTERN, s)]
        if bad or not value:
            raise ValueError(f"symbols must be like BTCUSDT (A-Z, 0-9); got {bad or 'none'}")
        return value

    @field_validator("markets", mode="before")
    @classmethod
    def _split_markets(cls, value: Any) -> Any:
        return [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else value


class Settings(BaseSettings):
    """Argos configuration."""

    model_config = SettingsConfigDict(
        env_prefix="ARGOS_", env_nested_delimiter="__", extra="forbid", validate_default=True,
        enable_decoding=False,
    )

    data_dir: Path = Field(Path("data"), description="Embedded default: spool, checkpoints, database.")
    whale_threshold_usd: float = Field(10_000, gt=0, description="Quote value that makes a whale.")
    whale_thresholds: dict[str, float] = Field(
        {}, description="Per-symbol whale thresholds, e.g. {BTCUSDT: 100000}."
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
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            msg = f"ARGOS_CONFIG={path}: cannot read ({exc.strerror}). Fix: point it at a YAML file."
            raise ConfigError(msg) from None
        if not isinstance(data, dict):
            raise ConfigError(f"ARGOS_CONFIG={path}: top level must be a mapping of settings.")
        return data


def env_name(loc: tuple[Any, ...]) -> str:
    """ARGOS_* environment variable for a settings key path."""
    return "ARGOS_" + "__".join(str(p).upper() for p in loc)


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
            hint = (
                f"remove '{key}'; it is not an Argos setting"
                if err["type"] == "extra_forbidden"
                else f"set {env_name(loc)} or '{key}' in the YAML config"
            )
            lines.append(f"  {key}: {err['msg']}{got}. Fix: {hint}.")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
    finally:
        _config_file.reset(token)
