"""``foreachBatch`` sink: each micro-batch into ClickHouse through clickhouse-connect ``insert_arrow``.

Exactly-once, in two layers:

* trades: repeats inside the batch and keys that other writes stored are dropped first
  (``argos_etl.dedup``), so a replay, a fresh checkpoint or a re-sent trade is never written twice; each
  row carries its write's token (``write_token``), so the replay of a batch whose insert died half-way re-sends
  exactly what the first attempt sent and the views fill in what they missed;
* every insert carries ``insert_deduplication_token = <query id>:<batch id>:<partition>:<table>``, so an
  insert retried after a timeout whose first attempt did land is written once, and dead letters (which
  are not de-duplicated by content: two equal payloads are two dead letters) are exact on a crash replay.
  In executor mode the rows go to partitions by a deterministic key (a trade's symbol, a dead letter's
  payload), so a replayed batch puts the same dead letters under the same token.

On a cluster the executors insert their own partitions in parallel (``mapInArrow``); only the
embedded engine, which one process owns, is written from the driver, a big batch's trades by concurrent
inserts split by trade id (``write_parts``: no key in two of them). A replay splits a batch as its first
attempt did, which ``argos_etl.checkpoint`` records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from argos.clickhouse import connect, insert_arrow
from argos_etl.checkpoint import SplitLog, Write
from argos_etl.dedup import drop_stored
from argos_etl.transforms import DEAD_LETTER_COLUMNS, TRADE_COLUMNS

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client
    from pyspark.sql import Column, DataFrame

    from argos.settings import Settings

log = logging.getLogger(__name__)
PROCESS_TIME = pa.timestamp("us", tz="UTC")
CODEGEN_MODE = "spark.sql.codegen.factoryMode"  # FALLBACK (Spark's default): generated code; NO_CODEGEN: interpreted


def codegen_mode(previous_rows: int | None, interpreted_below: int) -> str:
    """How Spark evaluates the next micro-batch's expressions, judged by the size of the one before it.

    With per-operator code generation every task generates its projections' code anew each micro-batch (~50 ms);
    interpreted evaluation skips that but costs more per row (docs/benchmarks item 25: static, ~0.7x the time up to
    a few thousand rows, even at 10k, 1.7x at 100k; in the stream a clear gain at a few hundred rows per batch, none
    shown at 2-3k), and each Kafka partition's reader generates two projections of its own (a few ms each, so the
    threshold grows with the partitions: ``Settings.interpreted_below``, item 47). A steady stream's small batches
    run interpreted; bigger ones, a backlog's, and the first batch after a start (size unknown), generated.
    """
    small = previous_rows is not None and previous_rows < interpreted_below
    return "NO_CODEGEN" if small else "FALLBACK"


def split(batch: pa.Table | pa.RecordBatch, batch_id: int, process_time: datetime | None = None,
          ) -> tuple[pa.Table, pa.Table]:
    """Rows of a processed batch -> (trades, dead letters), each with exactly its table's columns.

    Both are stamped with ``process_time`` (when the writer received the batch; default now) and dead letters
    with ``batch_id``.
    """
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    stamp = pa.scalar(process_time or datetime.now(UTC), PROCESS_TIME)
    table = table.append_column("process_time", pa.repeat(stamp, table.num_rows))
    if table["reason"].null_count == table.num_rows:  # no dead letter: the trades are the batch's own columns
        trades, dead = table.select(list(TRADE_COLUMNS)), table.slice(0, 0).select(list(DEAD_LETTER_COLUMNS))
    else:
        failed = pc.is_valid(table["reason"])
        trades = table.filter(pc.invert(failed)).select(list(TRADE_COLUMNS))
        dead = table.filter(failed).select(list(DEAD_LETTER_COLUMNS))
    dead = dead.append_column("batch_id", pa.repeat(pa.scalar(batch_id, pa.uint64()), dead.num_rows))
    return trades, dead


def write_tables(
    client: Client, db: str, trades: pa.Table, dead: pa.Table, token: str, retries: int, dedup: bool = True
) -> tuple[int, int]:
    """Insert one unit of work (a batch, or one partition of it) idempotently; return the rows sent.

    A replay of the same unit re-sends what its first attempt stored; ClickHouse drops those blocks by token.
    """
    if dedup and trades.num_rows:
        started = time.perf_counter()
        trades, dropped = drop_stored(client, db, trades, token, retries)
        log.info("%s: de-duplication took %.0f ms; %d trade(s) already stored or repeated, dropped", token,
                 (time.perf_counter() - started) * 1000, dropped)
    if trades.num_rows:
        trades = trades.append_column("write_token", pa.repeat(pa.scalar(token), trades.num_rows))
        insert_arrow(client, f"{db}.trades", trades, f"{token}:trades", retries)
    if dead.num_rows:
        insert_arrow(client, f"{db}.dead_letters", dead, f"{token}:dead_letters", retries)
    return trades.num_rows, dead.num_rows


def driver_parts(trades: int, threads: int, part_rows: int) -> int:
    """How many concurrent inserts the driver writes a batch of ``trades`` rows with: up to ``threads``, each of
    at least ``part_rows`` (a replay of the batch has the same rows, so the same split)."""
    return max(1, min(threads, trades // part_rows))


def trade_parts(trades: pa.Table, parts: int) -> list[pa.Table]:
    """``trades`` split by ``trade_id`` modulo ``parts`` (ids are >= 0: ``transform`` dead-letters a negative one).

    A key's repeats share a part, so each part's stored-key check sees whole keys and none races another.
    """
    if parts < 2:
        return [trades]
    rest = pc.remainder(trades["trade_id"], parts)
    return [trades.filter(pc.equal(rest, i)) for i in range(parts)]


def write_parts(clients: Sequence[Client], db: str, trades: pa.Table, dead: pa.Table, token: str, retries: int,
                dedup: bool = True) -> tuple[int, int]:
    """The driver's write of one batch: its trades as ``len(clients)`` concurrent ``write_tables`` (one per
    client, each under ``<token>:<part>``; the dead letters with the first), or one whole write under ``token``.

    The embedded engine pushes an insert through the table and its views in one thread: two halves of a 200k-trade
    batch went in 1.8x faster than the whole (docs/benchmarks item 59). Each part is idempotent on its own, so a
    replay after a crash between them re-sends both and the stored one is skipped.
    """
    if len(clients) < 2:
        return write_tables(clients[0], db, trades, dead, token, retries, dedup)
    parts = enumerate(zip(clients, trade_parts(trades, len(clients)), strict=True))
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(write_tables, client, db, part, dead if i == 0 else dead.slice(0, 0), f"{token}:{i}",
                               retries, dedup) for i, (client, part) in parts]
        written = [f.result() for f in futures]
    return sum(t for t, _ in written), sum(d for _, d in written)


def partition_key() -> Column:
    """Where a row is written from in executor mode: a trade by its symbol (one writer per key, so the
    stored-key check cannot race), a dead letter by its payload (the same partition on every replay)."""
    from pyspark.sql import functions as F

    return F.when(F.col("reason").isNull(), F.concat_ws("|", "venue", "market", "symbol")).otherwise(F.col("raw"))


class ClickHouseBatchWriter:
    """Callable for ``writeStream.foreachBatch``."""

    def __init__(self, settings: Settings, query_id: Callable[[], str], client: Client | None = None) -> None:
        self.settings = settings
        self.query_id = query_id
        self.from_driver = settings.writes_from_driver
        self.mode = "driver" if self.from_driver else "executors"  # how a batch's first attempt is written
        if settings.embedded and not self.from_driver:
            raise ValueError(
                "spark.write_mode=executors cannot write the embedded engine (one process owns it). "
                "Fix: use write_mode=auto/driver, or a ClickHouse server URL."
            )
        self._client = client
        self._more_clients: list[Client] = []
        self.splits = SplitLog(settings.checkpoint_dir)
        self._previous_rows: int | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = connect(self.settings.clickhouse_url, self.settings.clickhouse)
        return self._client

    def clients(self, n: int) -> list[Client]:
        """``n`` handles for the driver's concurrent inserts: the writer's own, then more on the same database."""
        while len(self._more_clients) < n - 1:
            self._more_clients.append(connect(self.settings.clickhouse_url, self.settings.clickhouse, repair=False))
        return [self.client, *self._more_clients[: n - 1]]

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        token, spark = f"{self.query_id()}:{batch_id}", self.settings.spark
        if interpreted_below := self.settings.interpreted_below:
            batch.sparkSession.conf.set(CODEGEN_MODE, codegen_mode(self._previous_rows, interpreted_below))
        first = self.splits.first(batch.sparkSession, batch_id)  # a replay writes the batch as its first attempt did
        received = first.received if first else datetime.now(UTC)
        if (first.mode if first else self.mode) == "driver":
            table = batch.toArrow()
            trades, dead = split(table, batch_id, received)
            wanted = driver_parts(trades.num_rows, spark.driver_write_threads, spark.driver_write_part_rows)
            write = self._first_write(batch_id, first, Write("driver", wanted, received))
            written = write_parts(self.clients(write.parts), self.settings.clickhouse.database, trades, dead,
                                  f"{token}:driver", self.settings.clickhouse.insert_retries, spark.dedup)
            self._previous_rows = table.num_rows
        else:
            if self.settings.embedded:
                raise ValueError(f"batch {batch_id} was first written by executors to a ClickHouse server, and "
                                 "executors cannot write the embedded engine. Fix: restart with that server's "
                                 "clickhouse.url to finish the batch, or a new spark.checkpoint_dir.")
            write = self._first_write(batch_id, first, Write("executors", spark.shuffle_partitions, received))
            written = _write_from_executors(batch, batch_id, token, self.settings, received, write.parts)
            self._previous_rows = sum(written)
        log.info("batch %d: %d trades, %d dead letters sent", batch_id, *written)

    def _first_write(self, batch_id: int, first: Write | None, wanted: Write) -> Write:
        """``first`` if this is a replay (logged where the settings now ask otherwise), else ``wanted``, recorded."""
        if first is None:
            return self.splits.record(batch_id, wanted)
        if first.mode != self.mode:
            log.info("batch %d is replayed by the %s, as first written (the settings now ask for the %s)", batch_id,
                     first.mode, self.mode)
        if first.parts != wanted.parts:
            log.info("batch %d is replayed in the %d parts it was first written in (the settings now ask for %d)",
                     batch_id, first.parts, wanted.parts)
        return first


def _write_from_executors(batch: DataFrame, batch_id: int, token: str, settings: Settings, received: datetime,
                          partitions: int) -> tuple[int, int]:
    """Each executor inserts its own partition of ``partitions``; only two counts per partition come back to the
    driver.

    ``received`` (when the driver got the batch) is every partition's ``process_time``.
    """
    url, cfg, dedup = settings.clickhouse_url, settings.clickhouse, settings.spark.dedup

    def insert_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        chunks = list(batches)
        if not chunks:
            yield pa.RecordBatch.from_pydict({"trades": [0], "dead": [0]})
            return
        trades, dead = split(pa.Table.from_batches(chunks), batch_id, received)
        client = connect(url, cfg)
        try:
            partition = TaskContext.get().partitionId()
            written = write_tables(client, cfg.database, trades, dead, f"{token}:p{partition}", cfg.insert_retries,
                                   dedup)
        finally:
            client.close()
        yield pa.RecordBatch.from_pydict({"trades": [written[0]], "dead": [written[1]]})

    written = batch.repartition(partitions, partition_key()).mapInArrow(insert_partition, "trades long, dead long")
    counts = written.groupBy().sum().collect()[0]
    return int(counts[0] or 0), int(counts[1] or 0)
