"""``argos dashboard`` and ``argos report``: the embedded dashboard without Grafana.

Mounted on the main CLI with ``app.add_typer(argos_dashboards.cli.app)``. While ``argos demo`` runs it
already serves the dashboard (it owns the embedded database); these commands open the database themselves.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from argos.cli_common import ConfigOpt, DataDirOpt, client_or_exit, console, requires, serving, settings_or_exit

if TYPE_CHECKING:
    from argos_dashboards.data import QueryFn

app = typer.Typer(help="The embedded dashboard (the same panels as the Grafana dashboard).", no_args_is_help=True)

WindowOpt = Annotated[int, typer.Option("--window", min=60, help="Seconds of history to show.")]
SymbolsOpt = Annotated[str, typer.Option("--symbols", help="Comma-separated symbols (default: all).")]


def _open(config: Path | None, data_dir: Path | None) -> tuple[QueryFn, str]:
    """A locked query function on the configured ClickHouse and the database name."""
    settings = settings_or_exit(config, data_dir=data_dir)
    client = client_or_exit(settings)
    lock = threading.Lock()

    def query(sql: str):
        with lock:
            return client.query_arrow(sql)

    return query, settings.clickhouse.database


def _symbols(text: str) -> list[str] | None:
    return [s.strip().upper() for s in text.split(",") if s.strip()] or None


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = 8050,
    refresh: Annotated[int, typer.Option(min=0, help="Auto-refresh seconds (0: off).")] = 5,
    window: WindowOpt = 3600,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Serve the dashboard until Ctrl-C."""
    with requires("dashboards", "dashboard"):
        from argos_dashboards.server import start_dashboard_server

    query, db = _open(config, data_dir)
    with serving("The dashboard", port, "--port"):
        url, stop = start_dashboard_server(query, host, port, db=db, window_s=window, refresh_s=refresh)
    console.print(f"Argos dashboard: [bold]{url}[/bold]  (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")],
    window: WindowOpt = 3600,
    symbols: SymbolsOpt = "",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a self-contained HTML snapshot of the dashboard."""
    with requires("dashboards", "report"):
        from argos_dashboards.page import write_report

    query, db = _open(config, data_dir)
    try:
        path = write_report(query, out, db=db, window_s=window, symbols=_symbols(symbols))
    except OSError as exc:  # the page was read, the file could not be written
        console.print(f"[red]cannot write {out}: {exc.strerror}.[/red] Fix: choose a writable --out path.")
        raise typer.Exit(1) from None
    except Exception as exc:
        console.print(f"[red]cannot read the dashboard data: {str(exc).splitlines()[0]}. "
                      "Fix: run `argos schema migrate` (or `argos demo`) against this database first.[/red]")
        raise typer.Exit(1) from None
    console.print(f"wrote {path}")
