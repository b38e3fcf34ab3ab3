"""``argos bench`` (mounted by ``argos.cli`` where this package is importable: a source checkout)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(help="Benchmarks.")
console = Console(stderr=True)


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="Small CI variant (under 5 minutes).")] = False,
    out: Annotated[Path, typer.Option("--out", help="JSON results; the .md report and PNGs go beside it.")] = Path(
        "docs/benchmarks/latest.json"),
    work_dir: Annotated[Path | None, typer.Option("--work-dir", help="Scratch dir (default: a temp dir).")] = None,
    only: Annotated[str, typer.Option(help="Comma-separated steps: ingest,etl,reference,latency,dashboard,"
                                           "scaling,knee,soak,realtime (default: all).")] = "",
) -> None:
    """Throughput, latency and query figures, each beside a baseline measured in the same run."""
    from argos_bench import report
    from argos_bench.compare import compare
    from argos_bench.suite import Profile, Run, run_suite

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("py4j", "kafka"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    profile = Profile.quick() if quick else Profile.full()
    run = Run(profile, work_dir, keep=work_dir is not None, only=tuple(s for s in only.split(",") if s))
    with Progress(TextColumn("{task.description:<44}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console) as progress:
        tasks: dict[str, int] = {}

        def update(stage: str, fraction: float) -> None:
            if stage not in tasks:
                for other in tasks.values():  # one stage at a time: finish the previous bars
                    progress.update(other, completed=100)
                tasks[stage] = progress.add_task(stage, total=100)
            progress.update(tasks[stage], completed=min(100.0, 100 * fraction))

        results = run_suite(run, update)
        for task in tasks.values():
            progress.update(task, completed=100)
    command = "argos bench" + (" --quick" if quick else "") + (f" --only {only}" if only else "") + f" --out {out}"
    previous = orjson.loads(out.read_bytes()) if out.exists() else None
    changes, compared = compare(previous, results)
    results["previous"] = {"compared": compared, "regressions": [c.name for c in changes if c.regressed()],
                           "changes": {c.name: {"before": c.before, "after": c.after} for c in changes}}
    path, md, images = report.write(results, out, command)
    Console().print(report.table(results))
    Console().print(report.changes_table(changes, compared))
    missing = "" if report.can_plot() else " (no plots: pip install matplotlib)"  # else: nothing in this run to plot
    plots = f" and {len(images)} plots" if images else missing
    console.print(f"wrote {path}, {md}{plots}")
    if results.get("errors"):
        console.print(f"[red]failed steps: {', '.join(results['errors'])}[/red]")
        raise typer.Exit(1)


if __name__ == "__main__":  # `python -m argos_bench.cli` until the main CLI mounts it
    sys.exit(app())
