"""Present benchmark results: a rich table, the JSON file, a Markdown report and matplotlib plots."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from argos_bench.compare import Change


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _figure(value: Any) -> str:
    """A compared figure: ratios (under 10) to two decimals, so that 0.49 -> 0.44 does not read 0.5 -> 0.4."""
    return _f(value, 2 if isinstance(value, int | float) and abs(value) < 10 else 1)


def _via(lat: dict[str, Any]) -> str:
    """How a latency run's trades travelled: Kafka (the default) or the embedded default's spool files."""
    return " via spool files" if lat.get("source") == "spool" else ""


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measurement, Argos, baseline, ratio) rows shared by the terminal table and the Markdown report."""
    out: list[tuple[str, str, str, str]] = []
    if ing := results.get("ingest"):
        a, r = ing["argos"], ing["raw_producer"]
        out.append(("Ingest: normalize+encode+produce, msgs/s per CPU-s", _f(a["msgs_per_cpu_s"]),
                    f"raw producer {_f(r['msgs_per_cpu_s'])}", f"{ing['ratio_per_cpu']:.2f}"))
        out.append(("Ingest: same, msgs/s wall", _f(a["msgs_per_s"]), f"raw producer {_f(r['msgs_per_s'])}",
                    f"{ing['ratio_wall']:.2f}"))
    if etl := results.get("etl"):
        out.append((f"ETL drain {etl['trades']:,} trades Kafka→Spark→ClickHouse, trades/s",
                    _f(etl["etl"]["trades_per_s"]), f"count-only {_f(etl['count_only']['trades_per_s'])}",
                    f"{etl['ratio']:.2f}"))
    if etl and "decode_only" in etl:
        out.append(("ETL drain vs a read that only decodes the JSON (one from_json), trades/s",
                    _f(etl["etl"]["trades_per_s"]), f"decode-only {_f(etl['decode_only']['trades_per_s'])}",
                    f"{etl['ratio_to_decode_only']:.2f}"))
    if etl and "etl_without_dedup" in etl:
        out.append(("ETL drain with de-duplication off (spark.dedup=false), trades/s",
                    _f(etl["etl_without_dedup"]["trades_per_s"]), f"with dedup {_f(etl['etl']['trades_per_s'])}",
                    f"{etl['dedup_cost_ratio']:.2f}"))
    if (ref := results.get("reference")) and etl:
        out.append(("Reference design (read.json inference + per-row inserts), trades/s",
                    _f(etl["etl"]["trades_per_s"]), f"reference {_f(ref['trades_per_s'], 1)}",
                    f"{ref.get('argos_over_reference', float('nan')):,.0f}×"))
    for lat in results.get("latency", []):
        e = lat["end_to_end"]
        out.append((f"E2E latency{_via(lat)} @ {lat['rate_target']:,}/s (achieved {lat['rate_achieved']:,.0f}/s), ms",
                    f"p50 {_f(e['p50'])} · p95 {_f(e['p95'])} · p99 {_f(e['p99'])}",
                    f"ingest→spark p50 {_f(lat['ingest_to_spark']['p50'])}",
                    f"spark→insert p50 {_f(lat['spark_to_insert']['p50'])}"))
        if w := lat.get("with_startup"):
            e = w["end_to_end"]
            out.append((f"E2E latency{_via(lat)} @ {lat['rate_target']:,}/s with the query's first "
                        f"{lat['settle_seconds']:.0f} s, ms", f"p50 {_f(e['p50'])} · p95 {_f(e['p95'])} · p99 "
                        f"{_f(e['p99'])}", f"{lat['rows']:,} trades", ""))
    for lat in results.get("latency", []):
        if mem := lat.get("memory"):
            out.append((f"Peak RSS{_via(lat)} @ {lat['rate_target']:,}/s, MiB", f"driver {_f(mem['driver_peak_mib'])}",
                        f"JVM {_f(mem['jvm_peak_mib'])}", f"workers {_f(mem['workers_peak_mib'])}"))
    knee = results.get("knee") or {}
    for kn, via in ((knee, ""), (knee.get("light_generator") or {}, " (librdkafka generator)")):
        if "skipped" in kn and via:
            out.append((f"Knee{via}", f"skipped: {kn['skipped']}", "", ""))
        if "points" not in kn:
            continue
        for p in kn["points"]:
            e = p["end_to_end"]
            out.append((f"Knee search{via} @ {p['rate_target']:,}/s offered ({p['generator_processes']} generator "
                        f"processes), ms", f"p50 {_f(e['p50'])} · p99 {_f(e['p99'])}",
                        f"achieved {_f(p['rate_achieved'])}/s", "met" if p["met"] else "missed"))
        out.append((f"Knee{via}: highest offered rate with p99 < 1 s", f"{_f(kn['knee_trades_per_s'])} trades/s",
                    "", ""))
    if (so := results.get("soak")) and "rss" in so:
        growth = " · ".join(f"{role} {_f(v['first_minute_mib'])}→{_f(v['last_minute_mib'])}"
                            for role, v in so["rss"].items())
        out.append((f"Soak {so['seconds']:.0f} s @ {so['rate']:,}/s: RSS first→last minute, MiB", growth,
                    f"p99 {_f(so['end_to_end']['p99'])} ms", ""))
    if dash := results.get("dashboard"):
        out.append((f"Dashboard: {len(dash['queries'])} queries over {dash['trades']:,} trades, ms",
                    f"worst p50 {_f(dash['p50_max_ms'], 1)}", f"worst p99 {_f(dash['p99_max_ms'], 1)}", ""))
    if (sc := results.get("scaling")) and "runs" in sc:
        for r in sc["runs"]:
            out.append((f"Scaling: {r['symbols']} symbols / {r['partitions']} partitions, "
                        f"{r.get('trades', 300_000):,} trades",
                        f"{_f(r['drain_trades_per_s'])} trades/s", f"p50 {_f(r['latency_p50_ms'])} ms",
                        f"{r['throughput_vs_1']:.2f} vs 1"))
    if (rt := results.get("realtime_mode")) and "exchange_to_sink_ms" in rt:
        q = rt["exchange_to_sink_ms"]
        out.append(("Real-Time Mode (foreach, no insert) exchange→sink @ 1k/s, ms",
                    f"p50 {_f(q['p50'])} · p99 {_f(q['p99'])}", "micro-batch: see E2E", "at-least-once"))
    return out


def table(results: dict[str, Any]) -> Table:
    t = Table(title=f"argos bench ({results['meta']['profile']}, {results['meta']['seconds']:.0f} s)")
    for name in ("measurement", "Argos", "baseline", "ratio"):
        t.add_column(name, justify="left" if name == "measurement" else "right")
    for row in rows(results):
        t.add_row(*row)
    return t


def changes_table(changes: list[Change], compared: str) -> Table:
    """Each headline figure before and after; regressions in red."""
    t = Table(title=f"against the previous report: {compared}")
    for name in ("figure", "before", "now", "ratio", ""):
        t.add_column(name, justify="left" if name == "figure" else "right")
    for c in changes:
        flag = "[red]REGRESSED[/red]" if c.regressed() else ""
        t.add_row(c.name, _figure(c.before), _figure(c.after), f"{c.ratio:.2f}", flag)
    return t


def can_plot() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plots(results: dict[str, Any], out_dir: Path, stem: str) -> list[Path]:
    """PNG plots (matplotlib, optional: ``pip install 'argos-flow[bench]'``); [] when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    if lat := results.get("latency"):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        stages = ["exchange_to_event", "event_to_ingest", "ingest_to_spark", "spark_to_insert"]
        labels = [f"{x['rate_target']:,}/s{' spool' if x.get('source') == 'spool' else ''}" for x in lat]
        bottom = [0.0] * len(lat)
        for stage in stages:
            vals = [max(0.0, x[stage]["p50"]) for x in lat]
            ax.bar(labels, vals, bottom=bottom, label=stage.replace("_", " "))
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.plot(labels, [x["end_to_end"]["p99"] for x in lat], "k^", label="end-to-end p99")
        ax.set_ylabel("ms (p50 per stage)")
        ax.set_title("End-to-end latency by stage")
        ax.legend(fontsize=7)
        made.append(_save(fig, out_dir / f"{stem}-latency.png"))
    if etl := results.get("etl"):
        fig, ax = plt.subplots(figsize=(7, 3))
        names = ["count-only (source limit)", "Argos ETL"]
        vals = [etl["count_only"]["trades_per_s"], etl["etl"]["trades_per_s"]]
        if ref := results.get("reference"):
            names.append("reference design")
            vals.append(ref["trades_per_s"])
        ax.barh(names, vals, color=["#888888", "#26a69a", "#ef5350"][: len(vals)])
        ax.set_xscale("log")
        ax.set_xlabel("trades/s (log)")
        ax.set_title(f"Draining {etl['trades']:,} trades")
        made.append(_save(fig, out_dir / f"{stem}-throughput.png"))
    if dash := results.get("dashboard"):
        fig, ax = plt.subplots(figsize=(7, 4))
        names = list(dash["queries"])
        ax.barh(names, [dash["queries"][n]["p50"] for n in names], label="p50")
        ax.plot([dash["queries"][n]["p99"] for n in names], names, "k|", markersize=12, label="p99")
        ax.set_xlabel("ms")
        ax.set_title(f"Dashboard queries over {dash['trades']:,} trades")
        ax.legend(fontsize=7)
        made.append(_save(fig, out_dir / f"{stem}-dashboard.png"))
    if (sc := results.get("scaling")) and "runs" in sc:
        fig, ax = plt.subplots(figsize=(7, 3))
        keyed = [r for r in sc["runs"] if r["partitions"] != r["symbols"] or r["symbols"] == 1]
        spread = [r for r in sc["runs"] if r["partitions"] == r["symbols"]]
        for runs, mark, label in ((keyed, "o-", "symbols as keys"), (spread, "^:", "one partition per symbol")):
            ax.plot([r["symbols"] for r in runs], [r["drain_trades_per_s"] for r in runs], mark, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("symbols")
        ax.set_ylabel("drain trades/s")
        ax.legend(fontsize=7)
        ax2 = ax.twinx()
        ax2.plot([r["symbols"] for r in keyed], [r["latency_p50_ms"] for r in keyed], "s--", color="#ef5350")
        ax2.set_ylabel("latency p50 ms (as keys)")
        ax.set_title("Scaling")
        made.append(_save(fig, out_dir / f"{stem}-scaling.png"))
    return made


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(results: dict[str, Any], images: list[Path], command: str) -> str:
    meta, m = results["meta"], results["meta"]["machine"]
    lines = [
        f"# Argos benchmark — {meta['profile']} profile",
        "",
        f"`{command}` · {meta['started']} · {meta['seconds']:.0f} s · {m['cores']} cores, {m['memory_gib']} GiB, "
        f"{m['platform']}, Python {m['python']}, pyspark {m['pyspark']}. Engines: a local KRaft broker, Spark "
        "`local[2]`, the embedded ClickHouse engine (chDB), all on this machine.",
        "",
        "| measurement | Argos | baseline (same run) | ratio |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(results)),
        "",
    ]
    if lat := results.get("latency"):
        lines += ["## Latency by stage (ms)", "",
                  "| rate (achieved) | stage | p50 | p95 | p99 |", "| --- | --- | --- | --- | --- |"]
        for x in lat:
            for stage in ("exchange_to_event", "event_to_ingest", "ingest_to_spark", "spark_to_insert", "end_to_end"):
                q = x[stage]
                lines.append(f"| {x['rate_achieved']:,.0f}/s{_via(x)} | {stage} | {_f(q['p50'])} | {_f(q['p95'])} | "
                             f"{_f(q['p99'])} |")
        lines.append("")
    if dash := results.get("dashboard"):
        lines += [f"## Dashboard queries ({dash['trades']:,} trades, {dash['window']})", "",
                  "| query | p50 ms | p99 ms | rows |", "| --- | --- | --- | --- |"]
        lines += [f"| {k} | {v['p50']:.1f} | {v['p99']:.1f} | {v['rows']} |" for k, v in dash["queries"].items()]
        lines.append("")
    if etl := results.get("etl"):
        e = etl["etl"]
        lines += ["## Where the ETL's time goes", "",
                  f"{e['batches']} micro-batches: {e['spark_seconds']:.1f} s in Spark and the writer (read, parse, "
                  f"enrich, toArrow to the driver, de-duplication lookup), "
                  f"{e['insert_seconds']:.1f} s in `insert_arrow`, "
                  f"{e['startup_and_idle_seconds']:.1f} s query start-up and trigger waits. "
                  f"Stored {etl['stored_rows']:,} rows, {etl['stored_distinct_ids']:,} distinct ids.", ""]
        if len(rounds := etl.get("rounds_trades_per_s", [])) > 1:
            keys = [k for k in ("count_only", "decode_only", "etl", "etl_without_dedup") if k in rounds[-1]]
            lines += [f"Rounds in one JVM, the last reported ({' · '.join(k.replace('_', ' ') for k in keys)}, "
                      "trades/s): " + "; ".join(" · ".join(_f(r[k]) for k in keys) for r in rounds) + ".", ""]
    if bd := results.get("etl_breakdown"):
        lines += [f"## ETL stages on a static read of {bd['trades']:,} trades "
                  "(Spark rows cumulative; ClickHouse rows alone)", "",
                  "| stage | seconds | rows/s |", "| --- | --- | --- |",
                  *(f"| {k} | {v:.2f} | {bd['rows_per_s'][k]:,.0f} |" for k, v in bd["seconds"].items()), ""]
    if ref := results.get("reference"):
        lines += ["## Reference design", "", f"read.json with inference: {ref['read_json_infer_seconds']:.1f} s; "
                  f"per-row inserts {ref['rows_per_s_insert']:.1f} rows/s. {ref['note']}.", ""]
    for key in ("scaling", "knee", "soak", "realtime_mode"):
        if (section := results.get(key)) and ("skipped" in section or key == "realtime_mode"):
            lines += [f"## {key.replace('_', ' ')}", "", "```json", orjson.dumps(section, option=orjson.OPT_INDENT_2)
                      .decode(), "```", ""]
    if prev := results.get("previous"):
        lines += ["## Against the previous report", "", prev["compared"] + ".", ""]
        if prev["changes"]:
            lines += ["| figure | before | now | |", "| --- | --- | --- | --- |"]
            lines += [f"| {k} | {_figure(v['before'])} | {_figure(v['after'])} | "
                      f"{'**regressed**' if k in prev['regressions'] else ''} |" for k, v in prev["changes"].items()]
            lines.append("")
    if errors := results.get("errors"):
        lines += ["## Errors", "", *(f"- **{k}**: {v}" for k, v in errors.items()), ""]
    lines += [f"![{p.stem}]({p.name})" for p in images]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], out: Path, command: str) -> tuple[Path, Path, list[Path]]:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    images = plots(results, out.parent, out.stem)
    md = out.with_suffix(".md")
    md.write_text(markdown(results, images, command))
    return out, md, images
