import pytest

from argos_schema.migrate import Migration, MigrationError, load_migrations, migrate


def test_migrate_is_idempotent(chdb_client):
    db = chdb_client.db
    assert migrate(chdb_client, db=db) == []  # the fixture applied everything already
    tables = {r[0] for r in chdb_client.query(f"SHOW TABLES FROM {db}").result_rows}
    assert {"trades", "dead_letters", "candles_1m", "flow_1m", "whales", "schema_migrations"} <= tables
    versions = chdb_client.query(f"SELECT version FROM {db}.schema_migrations ORDER BY version").result_rows
    assert [v[0] for v in versions] == [m.version for m in load_migrations()]


def test_changed_applied_file_is_refused(chdb_client, tmp_path):
    folder = tmp_path / "schema"
    folder.mkdir()
    for m in load_migrations():
        (folder / f"{m.name}.sql").write_text(m.sql)
    first = folder / "0001_trades.sql"
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(chdb_client, db=chdb_client.db, folder=folder)


def test_replicated_rewrites_engines():
    m = Migration(1, "0001_x", "CREATE TABLE {db}.t (a Int8) ENGINE = SummingMergeTree ORDER BY a;\n"
                               "-- comment only\n")
    assert m.statements("argos", replicated=True) == [
        "CREATE TABLE argos.t (a Int8) ENGINE = ReplicatedSummingMergeTree ORDER BY a"
    ]
    assert "ENGINE = MergeTree" in load_migrations()[0].statements("argos", replicated=False)[0]
