"""The migrator's guarantees on the embedded engine: one at a time, resumable, exact text handling."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
from argos_schema.lock import MigrationLock
from argos_schema.migrate import Migration, MigrationError, load_migrations, migrate, pending
from argos_schema.sql_text import replicate_engines, split_statements

TRICKY = """-- a comment; with a semicolon
CREATE TABLE IF NOT EXISTS {db}.t (a String DEFAULT 'x;y', b String COMMENT 'it''s; fine') ENGINE = MergeTree
ORDER BY a;   /* block; comment */
INSERT INTO {db}.t (a) VALUES ('semi;colon'), ('back\\';slash');
-- trailing comment only
"""


def test_split_cuts_only_on_code_semicolons():
    statements = Migration(1, "0001_t", TRICKY).statements("argos", replicated=False)
    assert len(statements) == 2
    assert statements[0].endswith("ORDER BY a") and "'it''s; fine'" in statements[0]
    assert statements[1] == "/* block; comment */\nINSERT INTO argos.t (a) VALUES ('semi;colon'), ('back\\';slash')"
    assert split_statements("SELECT 1;SELECT ';'") == ["SELECT 1", "SELECT ';'"]


def test_replicated_rewrite_is_idempotent_and_code_only():
    sql = ("CREATE TABLE t (a String COMMENT 'ENGINE = MergeTree') ENGINE = ReplicatedMergeTree ORDER BY a;\n"
           "-- ENGINE = MergeTree\nCREATE TABLE u (a UInt8) ENGINE=SummingMergeTree ORDER BY a")
    out = replicate_engines(sql)
    assert "ReplicatedReplicated" not in out
    assert "ENGINE=ReplicatedSummingMergeTree" in out
    assert "COMMENT 'ENGINE = MergeTree'" in out and "-- ENGINE = MergeTree" in out
    assert replicate_engines(out) == out


def test_line_endings_do_not_change_a_checksum(tmp_path):
    crlf = tmp_path / "crlf"
    crlf.mkdir()
    for m in load_migrations():
        (crlf / f"{m.name}.sql").write_bytes(("\ufeff" + m.sql).replace("\n", "\r\n").encode())
    assert [m.checksum for m in load_migrations(crlf)] == [m.checksum for m in load_migrations()]
    assert load_migrations(crlf)[0].statements("argos", False) == load_migrations()[0].statements("argos", False)


def _slow_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE {db}.a (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
                                       "SELECT sleep(1);\n")
    (folder / "0002_b.sql").write_text("CREATE TABLE {db}.b (x UInt8) ENGINE = MergeTree ORDER BY x;\n")
    return folder


def test_two_migrators_at_once_one_applies_the_other_waits(chdb_session, tmp_path):
    """Two migrators (the Helm hook and an ETL) start together on a fresh database: non-idempotent statements
    (plain CREATE TABLE) would fail or double the version rows if both ran them."""
    db = f"t_{uuid.uuid4().hex[:10]}"
    clients = [chdb_session, connect(f"chdb://{chdb_session.path}", ClickHouseSettings())]  # two connections
    folder = _slow_folder(tmp_path)
    start, results, errors, took = threading.Barrier(2), {}, {}, {}

    def run(k: int) -> None:
        start.wait()
        t0 = time.monotonic()
        try:
            results[k] = migrate(clients[k], db=db, folder=folder)
        except Exception as exc:  # recorded, asserted below
            errors[k] = exc
        took[k] = time.monotonic() - t0

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rows = chdb_session.query(f"SELECT version, count() FROM {db}.schema_migrations GROUP BY version "
                              "ORDER BY version").result_rows
    print(f"two migrators: results {results}, errors {errors}, seconds {took}, version rows {rows}")
    assert not errors, errors
    assert sorted(results.values()) == [[], ["0001_a", "0002_b"]], "exactly one migrator applies"
    assert rows == [(1, 1), (2, 1)]
    waiter = next(k for k, names in results.items() if not names)
    assert took[waiter] >= 1.0, "the other one waited for the lock holder"
    chdb_session.command(f"DROP DATABASE {db}")


def test_a_migration_interrupted_mid_file_resumes_after_its_last_statement(chdb_session, tmp_path):
    db = f"t_{uuid.uuid4().hex[:10]}"
    folder = tmp_path / "resume"
    folder.mkdir()
    (folder / "0001_x.sql").write_text("CREATE TABLE {db}.a (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
                                       "CREATE TABLE {db}.c AS {db}.needed;\n")
    with pytest.raises(MigrationError, match="statement 2 failed"):
        migrate(chdb_session, db=db, folder=folder)
    assert pending(chdb_session, db, folder) == ["0001_x"]
    chdb_session.command(f"CREATE TABLE {db}.needed (x UInt8) ENGINE = MergeTree ORDER BY x")  # the cause, fixed
    assert migrate(chdb_session, db=db, folder=folder) == ["0001_x"]  # no 'table a already exists'
    assert pending(chdb_session, db, folder) == []
    chdb_session.command(f"DROP DATABASE {db}")


def test_a_cluster_short_of_its_hosts_gets_no_schema(chdb_session):
    """ON CLUSTER DDL reaches only the hosts listed when it runs: the migrator waits for all of them, and past its
    timeout fails naming the setting, before it creates anything (the embedded engine lists no cluster)."""
    db = f"wait_{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    with pytest.raises(MigrationError, match=r"cluster 'argos' lists 0 of 2 hosts .*ARGOS_CLICKHOUSE__CLUSTER_HOSTS"):
        migrate(chdb_session, db, cluster="argos", cluster_hosts=2, lock_wait_seconds=1.5)
    assert time.monotonic() - t0 >= 1.5  # it waited, polling, before giving up
    assert chdb_session.query(f"SELECT count() FROM system.databases WHERE name = '{db}'").result_rows[0][0] == 0


# A chDB process whose engine reads a config listing cluster 'argos' with two replicas (clickhouse-connect passes
# no config file, so the engine is opened first; a second open of the same path in the process shares it).
_CLUSTER_OF_TWO = """
import sys, time, chdb
from argos.clickhouse import connect
from argos.settings import ClickHouseSettings
from argos_schema.migrate import migrate
path, config = sys.argv[1:]
engine = chdb.connect(f"{path}?config-file={config}")
client = connect(f"chdb://{path}", ClickHouseSettings())
for hosts in (3, 2):
    t0 = time.monotonic()
    try:
        migrate(client, "argos", cluster="argos", cluster_hosts=hosts, lock_wait_seconds=1.0)
    except Exception as exc:
        print(f"{hosts} hosts, {time.monotonic() - t0:.1f}s, {type(exc).__name__}: {exc}".replace(chr(10), " "))
"""
_REPLICA = "<replica><host>{host}</host><port>9000</port></replica>"


def test_a_cluster_listing_all_its_hosts_goes_on_to_the_schema(tmp_path):
    """The wait's other side, on the engine: system.clusters lists one row per replica, and once it lists the hosts
    asked for the migrator goes straight on to its ON CLUSTER DDL (which the embedded engine refuses: it runs no
    distributed DDL, and that refusal is what shows the wait was passed)."""
    config = tmp_path / "config.xml"
    replicas = "".join(_REPLICA.format(host=h) for h in ("127.0.0.1", "127.0.0.2"))
    config.write_text(f"<clickhouse><remote_servers><argos><shard>{replicas}</shard></argos></remote_servers>"
                      "</clickhouse>")
    run = subprocess.run([sys.executable, "-c", _CLUSTER_OF_TWO, str(tmp_path / "db"), str(config)],
                         capture_output=True, text=True, timeout=120)
    lines = run.stdout.splitlines()
    assert run.returncode == 0 and len(lines) == 2, run.stdout + run.stderr
    short, listed = lines
    assert re.match(r"3 hosts, [1-9]\.\ds, MigrationError: ClickHouse cluster 'argos' lists 2 of 3 hosts", short)
    assert listed.startswith("2 hosts, ") and "DatabaseError: " in listed  # past the wait, refused by the DDL:
    assert "Replicated DDL queries are disabled" in listed



def test_a_holder_that_makes_progress_is_not_taken_over(chdb_session):
    """The lock's age restarts at each applied statement (``refresh``): a long migration is not "stale" to a waiter,
    while a holder that stopped making progress is taken over."""
    db = f"t_{uuid.uuid4().hex[:10]}"
    chdb_session.command(f"CREATE DATABASE {db}")
    other = connect(f"chdb://{chdb_session.path}", ClickHouseSettings())
    holder = MigrationLock(chdb_session, db).__enter__()
    waiter = MigrationLock(other, db, wait_seconds=4.5, stale_seconds=2, poll_seconds=0.2)
    refreshing = threading.Event()

    def progress() -> None:  # a statement applied every 0.5 s for 6 s
        while not refreshing.wait(0.5):
            holder.refresh()

    beat = threading.Thread(target=progress)
    beat.start()
    try:
        with pytest.raises(MigrationError, match="another migrator"):
            waiter.__enter__()  # waited 4.5 s on a 2 s stale limit, and did not take over
    finally:
        refreshing.set()
        beat.join()
    waiter.wait_seconds = 10
    started = time.monotonic()
    waiter.__enter__()  # the holder stopped making progress (it "died"): taken over after ~2 s
    assert 1.5 <= time.monotonic() - started < 8
    waiter.__exit__(None, None, None)
    chdb_session.command(f"DROP DATABASE {db}")
