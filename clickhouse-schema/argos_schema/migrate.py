"""Apply the numbered SQL migrations in ``clickhouse-schema/migrations/`` exactly once each, in order.

Applied versions and their checksums live in ``<db>.schema_migrations``; a file whose text changed after
it was applied is refused (write a new migration instead). With ``clickhouse.cluster`` set, the database
is created with the Replicated engine and every ``*MergeTree`` becomes ``Replicated*MergeTree``, so one
set of files serves a single node, the embedded engine and a replicated cluster.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from argos.resources import component_dir

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*MergeTree)\b")


class MigrationError(RuntimeError):
    """The database disagrees with the migration files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, db: str, replicated: bool) -> list[str]:
        sql = self.sql.replace("{db}", db)
        if replicated:
            sql = _ENGINE.sub(lambda m: f"ENGINE = Replicated{m.group(1)}", sql)
        chunks = re.split(r";\s*(?:\n|$)", sql)
        return [c.strip() for c in chunks if _strip_comments(c).strip()]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def load_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or component_dir(__file__, "migrations")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {folder}: {versions}")
    return found


def migrate(client: Client, db: str = "argos", cluster: str = "", folder: Path | None = None) -> list[str]:
    """Bring the schema up to date; return the names of the migrations applied now."""
    replicated = bool(cluster)
    if replicated:
        client.command(
            f"CREATE DATABASE IF NOT EXISTS {db} ON CLUSTER '{cluster}' "
            f"ENGINE = Replicated('/clickhouse/databases/{db}', '{{shard}}', '{{replica}}')"
        )
    else:
        client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    engine = "ReplicatedMergeTree" if replicated else "MergeTree"
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, "
        f"checksum String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6)) "
        f"ENGINE = {engine} ORDER BY version"
    )
    applied = {
        row[0]: (row[1], row[2])
        for row in client.query(f"SELECT version, name, checksum FROM {db}.schema_migrations").result_rows
    }
    done = []
    for migration in load_migrations(folder):
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"{migration.name}.sql changed after it was applied as {name}. "
                    "Fix: restore the file and put the change in a new, higher-numbered migration."
                )
            continue
        for statement in migration.statements(db, replicated):
            client.command(statement)
        client.insert(
            f"{db}.schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        done.append(migration.name)
    return done
