"""``argos demo``: the whole pipeline in this process, which owns the embedded database and serves the page.

ingest (a thread) -> spool -> Spark (local) -> the embedded ClickHouse, with a live terminal table and the
embedded dashboard served from here; after a timed run, a summary line.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from rich.live import Live
from rich.table import Table

from argos.cli_common import console
from argos.settings import Settings
from argos.status import client_rows, read_status, summary_line
from argos_etl import job
from argos_ingest.pump import IngestStats, run_ingest
from argos_schema.migrate import migrate


def run_demo(settings: Settings, client, seconds: float | None, port: int) -> None:
    """Run until ``seconds`` have passed and the ETL drained (or Ctrl-C); then serve the page until Ctrl-C."""
    source = settings.ingest.source
    migrate(client, settings.clickhouse.database)
    dashboard, stop_dashboard = _start_dashboard(client, settings, port)
    stop_ingest, stats = threading.Event(), IngestStats()
    threading.Thread(target=run_ingest, args=(settings, stop_ingest, stats), daemon=True, name="ingest").start()
    timer = threading.Timer(seconds or 0, stop_ingest.set)
    timer.daemon = True  # a replay that ends early must not keep the process waiting for the timer
    if seconds:
        timer.start()
    console.print(
        f"[bold]Argos demo[/bold]: {source} ({', '.join(settings.ingest.venues)}) {', '.join(settings.ingest.symbols)}"
        f" -> spool -> Spark -> "
        f"{settings.clickhouse_url}" + (f"\ndashboard: [link={dashboard}]{dashboard}[/link]" if dashboard else "")
        + f"\nlogs: {settings.data_dir / 'demo.log'}; Ctrl-C to stop"
    )
    display = _LiveTable(client, settings, stats)
    display.start()
    try:
        job.run(settings, idle_stop_seconds=5 if seconds else None, client=client)
    finally:
        timer.cancel()
        stop_ingest.set()
        display.stop()
    console.print(_summary(client, settings, stats.rate))
    if dashboard and sys.stdin.isatty():  # a scripted run (CI, make demo in a pipe) ends with the summary
        console.print(f"dashboard: {dashboard} — serving until Ctrl-C (or run `argos report --out argos.html`)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    elif dashboard:
        console.print("dashboard: stopped with the run (no terminal to wait on); `argos report --out argos.html` "
                      "renders it from the database")
    stop_dashboard()


def _start_dashboard(client, settings: Settings, port: int):
    """Serve the embedded dashboard from this process (the one that owns the database)."""
    if not port:
        return None, lambda: None
    from argos.cli_common import serving
    from argos_dashboards.server import start_dashboard_server

    with serving("The demo's dashboard", port, "--port (0: none)"):
        return start_dashboard_server(client.query_arrow, "127.0.0.1", port, db=settings.clickhouse.database)


class _LiveTable:
    """A rich table refreshed every second from the embedded database."""

    def __init__(self, client, settings: Settings, stats) -> None:
        self.client, self.db, self.stats = client, settings.clickhouse.database, stats
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="live-table")
        # A replay's trade times are history: its lag is measured from the ingest, not from the exchange.
        self.lag_from = "ingest_time" if settings.ingest.source == "replay" else "trade_time"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        last_total, last_t = 0, time.monotonic()
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            while not self._stop.wait(1.0):
                rows = self.client.query(f"""
                    SELECT concat(venue, ' ', symbol), count(), argMax(price, trade_time), 0,
                           quantileIf(0.5)(dateDiff('millisecond', {self.lag_from}, insert_time),
                                           insert_time > now64(6) - INTERVAL 10 SECOND)
                    FROM {self.db}.trades GROUP BY venue, symbol ORDER BY venue, symbol""").result_rows
                whales = dict(self.client.query(f"SELECT concat(venue, ' ', symbol), count() FROM {self.db}.whales "
                                                "GROUP BY venue, symbol").result_rows)  # USD whales, any quote
                rows = [(r[0], r[1], r[2], whales.get(r[0], 0), r[4]) for r in rows]
                dead = self.client.query(f"SELECT count() FROM {self.db}.dead_letters").result_rows[0][0]
                total, now = sum(r[1] for r in rows), time.monotonic()
                rate, last_total, last_t = (total - last_total) / (now - last_t), total, now
                live.update(_table(rows, rate, dead, self.stats.records, self.lag_from))


def _table(rows: list[tuple], rate: float, dead: int, ingested: int, lag_from: str = "trade_time") -> Table:
    table = Table(title=f"Argos — {rate:,.0f} trades/s into ClickHouse · ingested {ingested:,} · dead letters {dead}")
    lag = "e2e lag p50 (ms)" if lag_from == "trade_time" else "pipeline lag p50 (ms)"
    for name in ("symbol", "trades", "last price", "whales", lag):
        table.add_column(name, justify="right" if name != "symbol" else "left")
    for symbol, count, price, whales, lag in rows:
        lag_text = "-" if lag != lag else f"{lag:,.0f}"  # NaN when nothing arrived lately
        table.add_row(symbol, f"{count:,}", f"{price.normalize():f}", str(whales), lag_text)
    return table


def _summary(client, settings: Settings, ingest_rate: float | None = None) -> str:
    line = summary_line(read_status(client_rows(client), settings.clickhouse.database))
    rate = f"; ingest averaged {ingest_rate:,.0f} trades/s" if ingest_rate is not None else ""
    return f"[bold]done[/bold]: {line}{rate}. Database: {settings.clickhouse_url}"
