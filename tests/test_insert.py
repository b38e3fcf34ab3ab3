"""``argos.clickhouse.insert_arrow`` against the embedded engine: a retry or replay under its token is one insert."""

from __future__ import annotations

import pyarrow as pa

from argos.clickhouse import insert_arrow


def test_a_replay_chunked_otherwise_is_still_one_insert(chdb_client):
    """ClickHouse derives an insert's block ids from its token and the record batches the rows came in: the same
    rows in 2 chunks, then in 1 (a replay whose rows were filtered or joined otherwise), were stored twice."""
    table = f"{chdb_client.db}.ids"
    chdb_client.command(f"CREATE TABLE {table} (i UInt64) ENGINE MergeTree ORDER BY i "
                        "SETTINGS non_replicated_deduplication_window = 100")
    rows = pa.table({"i": pa.array(range(6), pa.uint64())})
    for attempt in (pa.Table.from_batches(rows.to_batches(max_chunksize=3)), rows,
                    pa.Table.from_batches(rows.to_batches(max_chunksize=1))):
        insert_arrow(chdb_client, table, attempt, "q:1:driver:trades", retries=0)
        assert chdb_client.query(f"SELECT count() FROM {table}").result_rows == [(6,)], attempt.num_rows
    insert_arrow(chdb_client, table, rows, "q:2:driver:trades", retries=0)  # another batch's token: stored
    assert chdb_client.query(f"SELECT count() FROM {table}").result_rows == [(12,)]
