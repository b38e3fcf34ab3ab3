"""The ``argos`` command: demo, ingest, etl, schema migrate, status."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from argos.cli_common import ConfigOpt, DataDirOpt, client_or_exit, console, requires, serving, settings_or_exit
from argos.settings import Settings
from argos_dashboards.cli import app as dashboard_app

app = typer.Typer(help="Argos: crypto order flow from exchange trades to dashboards.", no_args_is_help=True)
schema_app = typer.Typer(help="ClickHouse schema migrations.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(dashboard_app)
log = logging.getLogger("argos")

SymbolsOpt = Annotated[str | None, typer.Option("--symbols", help="Comma-separated, e.g. btcusdt,ethusdt.")]
MarketOpt = Annotated[str | None, typer.Option(
    "--market", help="Binance market of the --replay dump: spot, usdm, coinm (default: from the file).")]


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
    from argos_schema.migrate import migrate

    settings = settings_or_exit(config, data_dir=data_dir)
    ch = settings.clickhouse
    applied = migrate(client_or_exit(settings), ch.database, ch.cluster, cluster_hosts=ch.cluster_hosts)
    console.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'schema is up to date'}")


@app.command()
def ingest(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    source: Annotated[str | None, typer.Option(help="synthetic | live | binance | replay")] = None,
    venue: Annotated[str | None, typer.Option(
        "--venue", "--venues", help="binance, coinbase, okx, bybit (comma-separated); live unless --source says.",
    )] = None,
    sink: Annotated[str | None, typer.Option(help="spool | kafka")] = None,
    symbols: SymbolsOpt = None,
    rate: Annotated[float | None, typer.Option(help="Synthetic trades per second.")] = None,
    replay: Annotated[Path | None, typer.Option(help="Binance dump to replay (.csv/.zip).")] = None,
    market: MarketOpt = None,
    seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Stream trades from a venue, a dump or the synthetic market into Kafka or the spool.

    SIGTERM (a pod's stop) and Ctrl-C stop it after flushing the sink; SIGHUP does the same and then runs the
    command again in the same process (``tilt up``'s live update: new code, same container)."""
    with requires("ingest", "ingest"):
        from argos_ingest.pump import IngestStats, run_ingest

    _logging()
    ingest_cfg = {"source": source, "sink": sink, "symbols": symbols, "rate": rate}
    if venue:
        ingest_cfg["venues"] = venue
        ingest_cfg["source"] = source or "live"
    if replay:
        ingest_cfg.update(_replay_cfg(replay, market, symbols))
    if replay and not source:
        ingest_cfg["source"] = "replay"
    ingest_cfg = {k: v for k, v in ingest_cfg.items() if v is not None}
    settings = settings_or_exit(config, data_dir=data_dir, ingest=ingest_cfg)
    stop, stats, again = threading.Event(), IngestStats(), threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            again.set()
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGHUP):  # as a container's PID 1 it would otherwise ignore both
        signal.signal(signum, on_signal)
    with serving("The ingest's health and metrics endpoint", settings.ingest.http_port,
                 "ARGOS_INGEST__HTTP_PORT (0: off)"):
        metrics = _start_metrics(settings)
    timer = threading.Timer(seconds or 0, stop.set)
    timer.daemon = True  # a replay that ends first must not wait out --seconds
    if seconds:
        timer.start()
    try:
        run_ingest(settings, stop, stats, metrics)
    except KeyboardInterrupt:
        stop.set()
    except (ConnectionError, OSError) as exc:  # no broker; spool full or unwritable
        console.print(f"[red]{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"ingested {stats.records} records ({stats.rate:.0f}/s)")
    if again.is_set():
        console.print("SIGHUP: starting again on the current code")
        sys.stdout.flush()
        os.execv(sys.executable, sys.orig_argv)  # the sink is closed; sockets do not survive an exec (PEP 446)


def _replay_cfg(replay: Path, market: str | None, symbols: str | None) -> dict[str, Any]:
    """Ingest settings of a replay: the file, its market if given, and its symbol (from the name) for display."""
    if not replay.is_file():
        console.print(f"[red]--replay {replay}: no such file.[/red] Fix: give the path of a Binance dump (.csv/.zip), "
                      "e.g. BTCUSDT-trades-2025-01-01.zip from data.binance.vision.", soft_wrap=True)
        raise typer.Exit(2)
    cfg: dict[str, Any] = {"replay_path": str(replay)}
    if market:
        cfg["replay_market"] = market.lower()
    if not symbols:
        from argos_ingest.replay import dump_symbol

        file_symbol = dump_symbol(replay)
        if file_symbol:
            cfg["symbols"] = file_symbol
    return cfg


def _start_metrics(settings: Settings):
    """Health and Prometheus endpoint of the ingest, when the metrics module is available."""
    if not settings.ingest.http_port:
        return None
    with requires("ingest", "ingest"):
        from argos_ingest.metrics import IngestMetrics, serve_http

    metrics = IngestMetrics()
    serve_http(settings.ingest.http_port, metrics, ready=lambda: metrics.receiving(30), host=settings.ingest.http_host)
    return metrics


@app.command()
def etl(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    source: Annotated[str | None, typer.Option(help="kafka | spool")] = None,
    idle_stop: Annotated[float | None, typer.Option(help="Stop after this many seconds without input.")] = None,
    migrate_schema: Annotated[bool, typer.Option(
        "--migrate/--no-migrate", help="Apply migrations first (--no-migrate: wait for another migrator, e.g. the "
        "chart's hook, to bring the schema up to date).")] = True,
) -> None:
    """Run the Spark Structured Streaming job into ClickHouse until SIGTERM/Ctrl-C."""
    from argos_schema.migrate import MigrationError, migrate, wait_for_schema

    with requires("etl", "etl"):
        from argos_etl import job
        from argos_etl.jars import SparkSetupError

    _logging()
    settings = settings_or_exit(config, data_dir=data_dir, spark={"source": source} if source else None)
    client = client_or_exit(settings)
    try:
        if migrate_schema:
            migrate(client, settings.clickhouse.database, settings.clickhouse.cluster,
                    cluster_hosts=settings.clickhouse.cluster_hosts)
        else:
            wait_for_schema(client, settings.clickhouse.database)
    except MigrationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    try:
        job.run(settings, idle_stop_seconds=idle_stop, client=client if settings.embedded else None)
    except OSError as exc:  # check_local_dir puts the key and the fix in strerror; others name their path
        console.print(f"[red]{exc.strerror if 'Fix:' in (exc.strerror or '') else exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    except SparkSetupError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def demo(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    seconds: Annotated[float | None, typer.Option(help="Run this long, drain, then stop (default: Ctrl-C).")] = None,
    symbols: SymbolsOpt = None,
    rate: Annotated[float | None, typer.Option(help="Synthetic trades per second (default: ingest.rate).")] = None,
    live: Annotated[bool, typer.Option("--live", help="Stream real trades from the venues.")] = False,
    venues: Annotated[str | None, typer.Option(
        "--venues", "--venue", help="binance,coinbase,okx,bybit (synthetic across them unless --live).")] = None,
    replay: Annotated[Path | None, typer.Option(help="Replay a Binance dump instead.")] = None,
    market: MarketOpt = None,
    port: Annotated[int, typer.Option(help="Embedded dashboard port (0: none).")] = 8050,
) -> None:
    """Everything on this machine: ingest -> spool -> Spark (local) -> embedded ClickHouse -> dashboard."""
    with requires("embedded", "demo"):
        import chdb  # noqa: F401  (the embedded engine)

        from argos.demo import run_demo
        from argos_etl.jars import SparkSetupError

    source = "live" if live else "replay" if replay else "synthetic"
    ingest_cfg: dict[str, Any] = {"source": source, "sink": "spool"}
    if rate is not None:
        ingest_cfg["rate"] = rate
    if venues:
        ingest_cfg["venues"] = venues
    if symbols:
        ingest_cfg["symbols"] = symbols
    if replay:
        ingest_cfg.update(_replay_cfg(replay, market, symbols))
    settings = settings_or_exit(
        config, data_dir=data_dir, ingest=ingest_cfg, spark={"source": "spool"}, clickhouse={"url": ""}
    )
    _logging(file=settings.data_dir / "demo.log")
    try:
        run_demo(settings, client_or_exit(settings), seconds, port)
    except SparkSetupError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def status(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    url: Annotated[str, typer.Option(help="A running demo's dashboard, asked when it owns the database.")] = (
        "http://127.0.0.1:8050"
    ),
) -> None:
    """Row counts, freshness and lag per symbol (from the database, or from a running demo)."""
    from argos.status import client_rows, read_status, redact_url, summary_line

    settings = settings_or_exit(config, data_dir=data_dir)
    db, source = settings.clickhouse.database, redact_url(settings.clickhouse_url)
    if settings.embedded and not Path(settings.clickhouse_url.removeprefix("chdb://")).exists():
        console.print(f"[red]No Argos database at {source} yet.[/red] Fix: run `argos demo` (or point --data-dir / "
                      "ARGOS_DATA_DIR at the demo's data directory).", soft_wrap=True)
        raise typer.Exit(1)
    client = client_or_exit(settings, owned_ok=True)
    if client is None:
        report, source = _status_from_demo(url), f"{url} (the running demo owns {source})"
    else:
        try:
            report = read_status(client_rows(client), db)
        except Exception as exc:  # the server answers, the schema is not there
            console.print(f"[red]No Argos tables in database {db} at {source}: {str(exc).splitlines()[0][:200]}"
                          "[/red] Fix: run `argos schema migrate` (or `argos demo`).", soft_wrap=True)
            raise typer.Exit(1) from None
    table = Table(title=f"Argos status — {source}")
    for name in ("venue", "symbol", "trades", "last price", "whales", "last trade (UTC)", "lag p50 (ms)"):
        table.add_column(name)
    for row in report["symbols"]:
        table.add_row(row.get("venue", ""), row["symbol"], f"{row['trades']:,}", f"{row['last_price']:,.8g}",
                      str(row["whales"]), row["last_trade"], f"{row['lag_p50_ms']:,.0f}")
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


def _mount_bench() -> None:
    """``argos bench`` where the benchmark suite is importable (a source checkout, ``pip install -e``)."""
    try:
        from argos_bench.cli import bench
    except ModuleNotFoundError as exc:
        if exc.name != "argos_bench":
            raise

        def bench() -> None:
            """Benchmarks (from a source checkout only)."""
            console.print("[red]The benchmark suite ships with the source, not the wheel.[/red] "
                          "Fix: in a checkout, pip install -e '.\\[bench]'", soft_wrap=True)
            raise typer.Exit(2)

    app.command()(bench)


_mount_bench()


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
