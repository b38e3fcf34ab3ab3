"""The one place that knows how Argos talks to ClickHouse (server over HTTP, or embedded chDB)."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import clickhouse_connect

from argos.dedup_logs import repair_dedup_logs
from argos.settings import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa
    from clickhouse_connect.driver.client import Client

    from argos.settings import ClickHouseSettings

log = logging.getLogger(__name__)

# Keep dependent materialized views exactly-once too: a deduplicated block is not re-aggregated.
INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1}


def connect(url: str, cfg: ClickHouseSettings, *, repair: bool = True) -> Client:
    """A clickhouse-connect client for ``http(s)://host:port`` or ``chdb:///path``.

    An embedded directory's de-duplication logs are repaired first if a kill left them ahead of the parts; a
    further handle on an engine this process already opened passes ``repair=False`` (the repair must run before
    the engine opens the directory). chDB's handles on one path share its engine.
    """
    if url.startswith("chdb://"):
        if repair:
            repair_dedup_logs(Path(url.removeprefix("chdb://")))
        return clickhouse_connect.get_client(dsn=url)
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"clickhouse.url={url!r} is not usable. Fix: set ARGOS_CLICKHOUSE__URL to "
            "http(s)://host:8123 for a server or chdb:///path for the embedded engine."
        )
    return clickhouse_connect.get_client(
        host=parts.hostname,
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        secure=parts.scheme == "https",
        username=parts.username or cfg.user,
        password=parts.password or cfg.password.get_secret_value(),
        compress="lz4",
        connect_timeout=10,
        send_receive_timeout=120,
    )


def owned_elsewhere(exc: Exception) -> bool:
    """True when chDB refused to open a database directory another process holds."""
    return "EmbeddedServer" in str(exc)


def insert_arrow(
    client: Client, table: str, data: pa.Table, token: str, retries: int = 8, max_backoff: float = 30.0
) -> None:
    """Insert an Arrow table idempotently: a retry with the same ``token`` is written at most once.

    Failures are retried with exponential backoff and jitter; after ``retries`` the error propagates. The rows go
    as one Arrow record batch: ClickHouse tells an insert's blocks apart by its token and the record batches they
    came in, so a replay chunked otherwise (another drop_stored path, other Spark partitions) would not be
    recognised (docs/benchmarks item 59).
    """
    data = data.combine_chunks()  # no copy when it is one chunk already
    settings = {**INSERT_SETTINGS, "insert_deduplication_token": token}
    for attempt in range(retries + 1):
        try:
            client.insert_arrow(table, data, settings=settings)
            return
        except Exception as exc:
            if attempt == retries:
                raise
            delay = min(max_backoff, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)
            log.warning("insert into %s failed (%s); retry %d/%d in %.1fs", table, exc, attempt + 1, retries, delay)
            time.sleep(delay)
