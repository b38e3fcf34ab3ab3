"""What every ``argos`` sub-command shares: the config options, settings and a client, with clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from argos.settings import ConfigError, Settings, load_settings

console = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML settings file (or ARGOS_CONFIG).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Spool, checkpoints, embedded database.")]


@contextmanager
def requires(extra: str, command: str) -> Iterator[None]:
    """Wrap a component's lazy imports: a missing dependency exits 2 naming the extra that brings it."""
    try:
        yield
    except ModuleNotFoundError as exc:
        console.print(
            f"[red]`argos {command}` needs the '{extra}' extra ({exc.name} is not installed).[/red] "
            f"Fix: pip install 'argos-flow\\[{extra}]'",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    """Settings, or exit 2 with the message that names the bad key and its fix."""
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def client_or_exit(settings: Settings, owned_ok: bool = False):
    """A ClickHouse client; exit 2 when clickhouse.url is unusable or the embedded engine is not installed, 3 when
    another process owns it (None with ``owned_ok``), 1 when the server does not answer."""
    from argos.clickhouse import connect, owned_elsewhere
    from argos.status import redact_url

    try:
        return connect(settings.clickhouse_url, settings.clickhouse)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    except ImportError:
        if not settings.embedded:
            raise
        console.print(
            f"[red]clickhouse.url is {settings.clickhouse_url}, the embedded engine, and chdb is not installed."
            "[/red] Fix: set ARGOS_CLICKHOUSE__URL=http(s)://host:8123 for a server, or "
            "pip install 'argos-flow\\[embedded]'", soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except Exception as exc:
        if owned_elsewhere(exc):
            if owned_ok:
                return None
            console.print(
                f"[red]{settings.clickhouse_url} is owned by another process (a running `argos demo` or "
                "`argos etl`).[/red] Only one process may open the embedded database: use that process's "
                "dashboard (the URL it printed), or stop it first."
            )
            raise typer.Exit(3) from None
        console.print(f"[red]ClickHouse at clickhouse.url={redact_url(settings.clickhouse_url)} does not answer: "
                      f"{str(exc).splitlines()[0][:300]}[/red] Fix: start it, or set ARGOS_CLICKHOUSE__URL "
                      "(and ARGOS_CLICKHOUSE__USER / ARGOS_CLICKHOUSE__PASSWORD) to one that does.", soft_wrap=True)
        raise typer.Exit(1) from None


@contextmanager
def serving(what: str, port: int, key: str) -> Iterator[None]:
    """Wrap the start of a server on ``port``: a port in use exits 2 naming the setting or option to change."""
    try:
        yield
    except OSError as exc:
        console.print(f"[red]{what} cannot listen on port {port}: {exc.strerror}.[/red] Fix: stop what uses it, or "
                      f"choose another port with {key}.", soft_wrap=True)
        raise typer.Exit(2) from None
