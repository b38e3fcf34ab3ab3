"""One migrator at a time, across processes and pods, with nothing but ClickHouse itself.

``CREATE TABLE`` without ``IF NOT EXISTS`` succeeds for exactly one caller (in a Replicated database too:
the DDL log orders them), so the lock is the existence of ``<db>.schema_migrations_lock``; its comment names
the holder. The holder renews it after every statement it applies (``refresh``), so its age is the time since
the holder last made progress; a holder that died leaves the table behind, taken over after ``stale_seconds``
without progress (one statement running longer than that, say a copy of a huge table, would be taken over too).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)
LOCK_TABLE = "schema_migrations_lock"


class MigrationError(RuntimeError):
    """The database disagrees with the migration files, or the migrator could not proceed."""


class MigrationLock:
    """Context manager: hold ``<db>.schema_migrations_lock`` while migrating."""

    def __init__(self, client: Client, db: str, wait_seconds: float = 600, stale_seconds: float = 1800,
                 poll_seconds: float = 0.5) -> None:
        self.client, self.db = client, db
        self.wait_seconds, self.stale_seconds, self.poll_seconds = wait_seconds, stale_seconds, poll_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.waited = 0.0

    def __enter__(self) -> MigrationLock:
        started = time.monotonic()
        announced = False
        while not self._try_create():
            holder, age = self._current()
            if age is not None and age > self.stale_seconds:
                log.warning("taking over the migration lock of %s, held for %.0fs (stale)", holder, age)
                self.client.command(f"DROP TABLE IF EXISTS {self.db}.{LOCK_TABLE}")
                continue
            if time.monotonic() - started > self.wait_seconds:
                raise MigrationError(
                    f"another migrator ({holder}) has held {self.db}.{LOCK_TABLE} for {age or 0:.0f}s. Fix: wait for "
                    f"it; if it died, DROP TABLE {self.db}.{LOCK_TABLE} (taken over by itself after "
                    f"{self.stale_seconds:.0f}s)."
                )
            if not announced:
                log.info("waiting for the migration lock held by %s", holder)
                announced = True
            time.sleep(self.poll_seconds)
        self.waited = time.monotonic() - started
        return self

    def refresh(self) -> None:
        """Show that the holder is alive: the lock's age (its metadata's modification time) starts again."""
        self.client.command(f"ALTER TABLE {self.db}.{LOCK_TABLE} MODIFY COMMENT '{self.holder}'")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.client.command(f"DROP TABLE IF EXISTS {self.db}.{LOCK_TABLE}")

    def _try_create(self) -> bool:
        try:
            self.client.command(f"CREATE TABLE {self.db}.{LOCK_TABLE} (holder String) ENGINE = Memory "
                                f"COMMENT '{self.holder}'")
            return True
        except Exception as exc:
            if "already exists" in str(exc).lower() or "TABLE_ALREADY_EXISTS" in str(exc):
                return False
            raise

    def _current(self) -> tuple[str, float | None]:
        rows = self.client.query(
            f"SELECT comment, dateDiff('second', metadata_modification_time, now()) FROM system.tables "
            f"WHERE database = '{self.db}' AND name = '{LOCK_TABLE}'"
        ).result_rows
        return (rows[0][0], float(rows[0][1])) if rows else ("nobody", None)
