"""The ``argos`` command: demo, ingest, etl, schema migrate, status."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table

from argos.bench.cli import app as bench_app
from argos.cli_common import ConfigOpt, DataDirOpt, client_or_exit, console, settings_or_exit
from argos.dashboard.cli import app as dashboard_app
from argos.settings import Settings

app = typer.Typer(help="Argos: crypto order flow from exchange trades to dashboards.", no_args_is_help=True)
schema_app = typer.Typer(help="ClickHouse schema migrations.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(dashboard_app)
app.add_typer(bench_app)
log = logging.getLogger("argos")

SymbolsOpt = Annotated[str | None, typer.Option("--symbols", help="Comma-separated, e.g. btcusdt,ethusdt.")]


def _logging(level: int = logging.INFO, file: Path | None = None) -> None:
    # Rich on a terminal; plain lines in pipes, files and pod logs.
    handlers: list[logging.Handler] = [
        RichHandler(console=console, show_path=False) if console.is_terminal else logging.StreamHandler()
    ]
    if file:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers = [logging.FileHandler(file)]
    logging.basicConfig(level=level, handlers=handlers, format="%(asctime)s %(name)s %(message)s", force=True)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)


@schema_app.command("migrate")
def schema_migrate(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Apply pending migrations from clickhouse-schema/ (idempotent)."""
    from argos.schema import migrate

    settings = settings_or_exit(config, data_dir=data_dir)
    applied = migrate(client_or_exit(settings), settings.clickhouse.database, settings.clickhouse.cluster)
    console.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'schema is up to date'}")


@app.command()
def ingest(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    source: Annotated[str | None, typer.Option(help="synthetic | binance | replay")] = None,
    sink: Annotated[str | None, typer.Option(help="spool | kafka")] = None,
    symbols: SymbolsOpt = None,
    rate: Annotated[float | None, typer.Option(help="Synthetic trades per second.")] = None,
    replay: Annotated[Path | None, typer.Option(help="Binance dump to replay (.csv/.zip).")] = None,
    seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Stream trades from a venue, a dump or the synthetic market into Kafka or the spool."""
    from argos.ingest import IngestStats, run_ingest

    _logging()
    ingest_cfg = {"source": source, "sink": sink, "symbols": symbols, "rate": rate}
    if replay:
        ingest_cfg["replay_path"] = str(replay)
    if replay and not source:
        ingest_cfg["source"] = "replay"
    ingest_cfg = {k: v for k, v in ingest_cfg.items() if v is not None}
    settings = settings_or_exit(config, data_dir=data_dir, ingest=ingest_cfg)
    stop, stats = threading.Event(), IngestStats()
    metrics = _start_metrics(settings)
    if seconds:
        threading.Timer(seconds, stop.set).start()
    try:
        run_ingest(settings, stop, stats, metrics)
    except KeyboardInterrupt:
        stop.set()
    except (ConnectionError, OSError) as exc:  # no broker; spool full or unwritable
        console.print(f"[red]{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"ingested {stats.records} records ({stats.rate:.0f}/s)")


def _start_metrics(settings: Settings):
    """Health and Prometheus endpoint of the ingest, when the metrics module is available."""
    if not settings.ingest.http_port:
        return None
    from argos.metrics import IngestMetrics, serve_http

    metrics = IngestMetrics()
    serve_http(settings.ingest.http_port, metrics, ready=lambda: metrics.receiving(30))
    return metrics


@app.command()
def etl(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    source: Annotated[str | None, typer.Option(help="kafka | spool")] = None,
    idle_stop: Annotated[float | None, typer.Option(help="Stop after this many seconds without input.")] = None,
    migrate_schema: Annotated[bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")] = True,
) -> None:
    """Run the Spark Structured Streaming job into ClickHouse until SIGTERM/Ctrl-C."""
    from argos.schema import migrate
    from argos_etl import job

    _logging()
    settings = settings_or_exit(config, data_dir=data_dir, spark={"source": source} if source else None)
    client = client_or_exit(settings) if settings.embedded or migrate_schema else None
    if migrate_schema:
        migrate(client, settings.clickhouse.database, settings.clickhouse.cluster)
    try:
        job.run(settings, idle_stop_seconds=idle_stop, client=client if settings.embedded else None)
    except OSError as exc:
        console.print(f"[red]{exc.strerror or exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def demo(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    seconds: Annotated[float | None, typer.Option(help="Run this long, drain, then stop (default: Ctrl-C).")] = None,
    symbols: SymbolsOpt = None,
    rate: Annotated[float, typer.Option(help="Synthetic trades per second.")] = 300.0,
    live: Annotated[bool, typer.Option("--live", help="Stream real trades from Binance.")] = False,
    replay: Annotated[Path | None, typer.Option(help="Replay a Binance dump instead.")] = None,
    port: Annotated[int, typer.Option(help="Embedded dashboard port (0: none).")] = 8050,
) -> None:
    """Everything on this machine: ingest -> spool -> Spark (local) -> embedded ClickHouse -> dashboard."""
    from argos.ingest import IngestStats, run_ingest
    from argos.schema import migrate
    from argos_etl import job

    source = "binance" if live else "replay" if replay else "synthetic"
    ingest_cfg: dict[str, Any] = {"source": source, "sink": "spool", "rate": rate}
    if symbols:
        ingest_cfg["symbols"] = symbols
    if replay:
        ingest_cfg["replay_path"] = str(replay)
    settings = settings_or_exit(
        config, data_dir=data_dir, ingest=ingest_cfg, spark={"source": "spool"}, clickhouse={"url": ""}
    )
    _logging(file=settings.data_dir / "demo.log")
    client = client_or_exit(settings)
    migrate(client, settings.clickhouse.database)
    dashboard, stop_dashboard = _start_dashboard(client, settings, port)
    stop_ingest, stats = threading.Event(), IngestStats()
    threading.Thread(target=run_ingest, args=(settings, stop_ingest, stats), daemon=True, name="ingest").start()
    if seconds:
        threading.Timer(seconds, stop_ingest.set).start()
    console.print(
        f"[bold]Argos demo[/bold]: {source} {', '.join(settings.ingest.symbols)} -> spool -> Spark -> "
        f"{settings.clickhouse_url}" + (f"\ndashboard: [link={dashboard}]{dashboard}[/link]" if dashboard else "")
        + f"\nlogs: {settings.data_dir / 'demo.log'}; Ctrl-C to stop"
    )
    display = _LiveTable(client, settings, stats)
    display.start()
    try:
        job.run(settings, idle_stop_seconds=5 if seconds else None, client=client)
    finally:
        stop_ingest.set()
        display.stop()
    console.print(_summary(client, settings, stats.rate))
    if dashboard:
        console.print(f"dashboard: {dashboard} — serving until Ctrl-C (or run `argos report --out argos.html`)")
        _serve_until_interrupted()
    stop_dashboard()


def _start_dashboard(client, settings: Settings, port: int):
    """Serve the embedded dashboard from this process (the one that owns the database)."""
    if not port:
        return None, lambda: None
    from argos.dashboard.server import start_dashboard_server

    return start_dashboard_server(client.query_arrow, "127.0.0.1", port, db=settings.clickhouse.database)


def _serve_until_interrupted() -> None:
    if not sys.stdin.isatty():
        return  # a scripted run (CI, make demo in a pipe) ends with the summary
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


class _LiveTable:
    """A rich table refreshed every second from the embedded database."""

    def __init__(self, client, settings: Settings, stats) -> None:
        self.client, self.db, self.stats = client, settings.clickhouse.database, stats
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="live-table")

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
                    SELECT symbol, count(), argMax(price, trade_time), countIf(is_whale),
                           quantileIf(0.5)(dateDiff('millisecond', trade_time, insert_time),
                                           insert_time > now64(6) - INTERVAL 10 SECOND)
                    FROM {self.db}.trades GROUP BY symbol ORDER BY symbol""").result_rows
                dead = self.client.query(f"SELECT count() FROM {self.db}.dead_letters").result_rows[0][0]
                total, now = sum(r[1] for r in rows), time.monotonic()
                rate, last_total, last_t = (total - last_total) / (now - last_t), total, now
                live.update(_table(rows, rate, dead, self.stats.records))


def _table(rows: list[tuple], rate: float, dead: int, ingested: int) -> Table:
    table = Table(title=f"Argos — {rate:,.0f} trades/s into ClickHouse · ingested {ingested:,} · dead letters {dead}")
    for name in ("symbol", "trades", "last price", "whales", "e2e lag p50 (ms)"):
        table.add_column(name, justify="right" if name != "symbol" else "left")
    for symbol, count, price, whales, lag in rows:
        lag_text = "-" if lag != lag else f"{lag:,.0f}"  # NaN when nothing arrived lately
        table.add_row(symbol, f"{count:,}", f"{price.normalize():f}", str(whales), lag_text)
    return table


def _summary(client, settings: Settings, ingest_rate: float | None = None) -> str:
    from argos.status import read_status, summary_line

    line = summary_line(read_status(client.query_arrow, settings.clickhouse.database))
    rate = f"; ingest averaged {ingest_rate:,.0f} trades/s" if ingest_rate is not None else ""
    return f"[bold]done[/bold]: {line}{rate}. Database: {settings.clickhouse_url}"


@app.command()
def status(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    url: Annotated[str, typer.Option(help="A running demo's dashboard, asked when it owns the database.")] = (
        "http://127.0.0.1:8050"
    ),
) -> None:
    """Row counts, freshness and lag per symbol (from the database, or from a running demo)."""
    from argos.status import read_status, summary_line

    settings = settings_or_exit(config, data_dir=data_dir)
    from argos.clickhouse import connect, owned_elsewhere

    try:
        client = connect(settings.clickhouse_url, settings.clickhouse)
        report = read_status(client.query_arrow, settings.clickhouse.database)
        source = settings.clickhouse_url
    except Exception as exc:
        if not owned_elsewhere(exc):
            raise
        report, source = _status_from_demo(url), f"{url} (the running demo owns {settings.clickhouse_url})"
    table = Table(title=f"Argos status — {source}")
    for name in ("symbol", "trades", "last price", "whales", "last trade (UTC)", "lag p50 (ms)"):
        table.add_column(name)
    for row in report["symbols"]:
        table.add_row(row["symbol"], f"{row['trades']:,}", f"{row['last_price']:,.8g}", str(row["whales"]),
                      row["last_trade"], f"{row['lag_p50_ms']:,.0f}")
    Console().print(table)
    Console().print(summary_line(report))


def _status_from_demo(url: str) -> dict:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/status.json", timeout=10) as response:
            return json.load(response)
    except OSError:
        console.print(
            f"[red]The embedded database is owned by another process and no demo answers at {url}.[/red] "
            "Use that process's dashboard (--url), or stop it first."
        )
        raise typer.Exit(3) from None


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
