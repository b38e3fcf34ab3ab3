"""Apply the numbered SQL migrations in ``clickhouse-schema/migrations/`` exactly once each, in order.

Applied versions and their checksums live in ``<db>.schema_migrations``; a file whose text changed after
it was applied is refused (write a new migration instead); line endings and a byte-order mark do not count
as a change. With ``clickhouse.cluster`` set, the database is created with the Replicated engine and every
``*MergeTree`` becomes ``Replicated*MergeTree``, so one set of files serves a single node, the embedded
engine and a replicated cluster.

One migrator at a time (``argos_schema.lock``): a Helm hook, a second pod or an ETL started by hand wait for
the one that holds the lock, then find nothing left to do. ClickHouse has no transactional DDL, so each
statement's completion is recorded (``schema_migration_steps``): a migrator that dies mid-file resumes after
the last statement that completed instead of running it again; the version row follows the last statement.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from argos.resources import component_dir
from argos_schema.lock import MigrationError, MigrationLock
from argos_schema.sql_text import normalized, replicate_engines, split_statements

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

__all__ = ["Migration", "MigrationError", "load_migrations", "migrate", "pending", "wait_for_schema"]
log = logging.getLogger(__name__)
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(normalized(self.sql).encode()).hexdigest()

    def statements(self, db: str, replicated: bool) -> list[str]:
        sql = normalized(self.sql).replace("{db}", db)
        return split_statements(replicate_engines(sql) if replicated else sql)


def load_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or component_dir(__file__, "migrations")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_bytes().decode("utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {folder}: {versions}")
    return found


def _bookkeeping(client: Client, db: str, cluster: str) -> None:
    """The database and the tables that record what was applied (all idempotent, safe to race)."""
    if cluster:
        client.command(
            f"CREATE DATABASE IF NOT EXISTS {db} ON CLUSTER '{cluster}' "
            f"ENGINE = Replicated('/clickhouse/databases/{db}', '{{shard}}', '{{replica}}')"
        )
    else:
        client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    engine = "ReplicatedMergeTree" if cluster else "MergeTree"
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, "
        f"checksum String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6)) ENGINE = {engine} ORDER BY version"
    )
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migration_steps (version UInt32, checksum String, step UInt32, "
        f"applied_at DateTime64(6, 'UTC') DEFAULT now64(6)) ENGINE = {engine} ORDER BY (version, step)"
    )


def _applied(client: Client, db: str) -> dict[int, tuple[str, str]]:
    rows = client.query(f"SELECT version, any(name), any(checksum) FROM {db}.schema_migrations GROUP BY version")
    return {row[0]: (row[1], row[2]) for row in rows.result_rows}


def _check(migrations: list[Migration], applied: dict[int, tuple[str, str]]) -> list[Migration]:
    """The migrations still to apply; refuse files changed after they were applied."""
    todo = []
    for migration in migrations:
        if migration.version not in applied:
            todo.append(migration)
        elif applied[migration.version][1] != migration.checksum:
            raise MigrationError(
                f"{migration.name}.sql changed after it was applied as {applied[migration.version][0]}. "
                "Fix: restore the file and put the change in a new, higher-numbered migration."
            )
    return todo


def pending(client: Client, db: str = "argos", folder: Path | None = None) -> list[str]:
    """Names of the migrations not applied yet (all of them when the database does not exist)."""
    migrations = load_migrations(folder)
    exists = client.query(f"SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'schema_migrations'")
    if not exists.result_rows[0][0]:
        return [m.name for m in migrations]
    return [m.name for m in _check(migrations, _applied(client, db))]


def wait_for_schema(client: Client, db: str = "argos", timeout: float = 600, poll: float = 2.0) -> None:
    """Block until another migrator (the Helm hook) brought the schema up to date, or fail naming the fix."""
    deadline = time.monotonic() + timeout
    while todo := pending(client, db):
        if time.monotonic() > deadline:
            raise MigrationError(
                f"schema {db} still lacks {', '.join(todo)} after {timeout:.0f}s. Fix: run `argos schema migrate` "
                "(the chart's schema hook Job does), or start the ETL with --migrate."
            )
        log.info("waiting for the schema migrations %s to be applied by the migrator", ", ".join(todo))
        time.sleep(poll)


def wait_for_cluster(client: Client, cluster: str, hosts: int, timeout: float = 600, poll: float = 5.0) -> None:
    """Block until the server lists ``hosts`` hosts in ``cluster``, or fail naming the fix.

    ``ON CLUSTER`` DDL goes to the hosts the server lists when it runs, and a host added later never runs it. On a
    first install the Altinity operator adds a ClickHouseInstallation's replicas to the cluster one by one as each
    becomes ready, and copies no schema to the hosts of a new installation (``shouldMigrateTables``,
    pkg/controller/chi/worker-migrator.go, release-0.25.6): a schema created before the last replica is listed
    would be missing on it.
    """
    deadline = time.monotonic() + timeout
    while True:
        listed = client.query("SELECT count() FROM system.clusters WHERE cluster = {c:String}",
                              parameters={"c": cluster}).result_rows[0][0]
        if listed >= hosts:
            return
        if time.monotonic() > deadline:
            raise MigrationError(
                f"ClickHouse cluster '{cluster}' lists {listed} of {hosts} hosts after {timeout:.0f}s (system.clusters "
                "of the server the migrator reached). Fix: wait until the ClickHouseInstallation is Completed "
                "(kubectl get chi) and rerun; or set clickhouse.cluster_hosts (ARGOS_CLICKHOUSE__CLUSTER_HOSTS) to "
                "the hosts the cluster really has (0: do not wait)."
            )
        log.info("waiting for ClickHouse cluster %s to list %d hosts (%d so far)", cluster, hosts, listed)
        time.sleep(max(0.05, min(poll, deadline - time.monotonic())))


def migrate(client: Client, db: str = "argos", cluster: str = "", folder: Path | None = None,
            lock_wait_seconds: float = 600, cluster_hosts: int = 0) -> list[str]:
    """Bring the schema up to date; return the names of the migrations applied now (by this call).

    With ``cluster`` and ``cluster_hosts`` set, first wait until the cluster lists that many hosts."""
    migrations = load_migrations(folder)
    if cluster and cluster_hosts:
        wait_for_cluster(client, cluster, cluster_hosts, timeout=lock_wait_seconds)
    _bookkeeping(client, db, cluster)
    if not _check(migrations, _applied(client, db)):
        return []
    done = []
    with MigrationLock(client, db, wait_seconds=lock_wait_seconds) as lock:
        for migration in _check(migrations, _applied(client, db)):  # again: the last holder may have done it
            _apply(client, db, migration, bool(cluster), lock)
            done.append(migration.name)
    return done


def _apply(client: Client, db: str, migration: Migration, replicated: bool, lock: MigrationLock) -> None:
    steps = client.query(
        f"SELECT DISTINCT step FROM {db}.schema_migration_steps WHERE version = {migration.version} "
        f"AND checksum = '{migration.checksum}'"
    )
    completed = {row[0] for row in steps.result_rows}
    if completed:
        log.warning("%s: resuming after %d completed statement(s)", migration.name, len(completed))
    for step, statement in enumerate(migration.statements(db, replicated)):
        if step in completed:
            continue
        try:
            client.command(statement)
        except Exception as exc:
            raise MigrationError(
                f"{migration.name}.sql statement {step + 1} failed: {exc}. Statements before it are applied and "
                "recorded; fix the cause (or the file, if it was never applied anywhere) and run the migrator again."
            ) from exc
        client.insert(f"{db}.schema_migration_steps", [[migration.version, migration.checksum, step]],
                      column_names=["version", "checksum", "step"])
        lock.refresh()
    client.insert(f"{db}.schema_migrations", [[migration.version, migration.name, migration.checksum]],
                  column_names=["version", "name", "checksum"])
    log.info("applied %s", migration.name)
