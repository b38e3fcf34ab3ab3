"""The embedded dashboard: run every panel, draw it with plotly, and wrap it in one self-contained page."""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from plotly.offline import get_plotlyjs
from plotly.utils import PlotlyJSONEncoder

from argos_dashboards.data import QueryFn, Selection, default_selection, run_panel
from argos_dashboards.figures import draw
from argos_dashboards.macros import interpolate, now_utc
from argos_dashboards.model import Panel, Scope
from argos_dashboards.panels import panels

log = logging.getLogger(__name__)
TITLE = "Argos · order flow"
_TEMPLATE = Path(__file__).with_name("page.html")


def _panel_payload(query: QueryFn, panel: Panel, selection: Selection) -> dict[str, Any]:
    title = interpolate(panel.title, selection.variables) if "$" in panel.title else panel.title
    try:
        rows = run_panel(query, panel, selection)
        error = ""
    except Exception as exc:  # one broken panel must not blank the page
        log.warning("panel %s failed: %s", panel.key, exc)
        rows, error = None, str(exc).splitlines()[0][:300]
    figure = draw(panel, rows) if rows is not None else None
    return {
        "key": panel.key,
        "title": title,
        "description": panel.description,
        "width": panel.width,
        "height": panel.height,
        "rows": 0 if rows is None else len(rows),
        "error": error,
        "figure": figure,
    }


def collect(query: QueryFn, selection: Selection, refresh_s: int = 0) -> dict[str, Any]:
    """Everything the page shows: sections of panels, each with its plotly figure."""
    def section(title: str, scope: Scope, chosen: Selection) -> dict[str, Any]:
        return {"title": title, "panels": [_panel_payload(query, p, chosen) for p in panels(scope)]}

    sections = [section("Overview", Scope.OVERVIEW, selection), section("Pipeline", Scope.PIPELINE, selection),
                section("Across venues", Scope.VENUES, selection)]
    # One section per symbol, like Grafana's repeated row.
    sections += [section(s, Scope.SYMBOL, selection.only(symbol=[s])) for s in selection.variables.get("symbol", [])]
    return {
        "title": TITLE,
        "generated_at": now_utc().isoformat(timespec="seconds"),
        "from": selection.start.isoformat(timespec="seconds"),
        "to": selection.end.isoformat(timespec="seconds"),
        "market": ",".join(selection.variables.get("market", [])),
        "refresh_s": refresh_s,
        "sections": sections,
    }


def to_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, cls=PlotlyJSONEncoder, separators=(",", ":"))


@cache
def plotly_js() -> str:
    """plotly.js as shipped inside the plotly wheel (no CDN: the page works offline)."""
    return get_plotlyjs()


def render_page(payload: dict[str, Any], plotly_src: str | None = None) -> str:
    """The HTML page; plotly.js inline unless ``plotly_src`` names a URL to load it from."""
    script = (
        f'<script src="{html.escape(plotly_src)}"></script>'
        if plotly_src
        else f"<script>{plotly_js()}</script>"
    )
    data = to_json(payload).replace("</", "<\\/")
    return (
        _TEMPLATE.read_text()
        .replace("{{TITLE}}", html.escape(payload["title"]))
        .replace("{{PLOTLY}}", script)
        .replace("{{DATA}}", data)
    )


def write_report(
    query: QueryFn,
    out_path: str | Path,
    *,
    db: str = "argos",
    window_s: int = 3600,
    symbols: list[str] | None = None,
    end: datetime | None = None,
) -> Path:
    """Write a self-contained HTML snapshot of the dashboard (``argos report --out file.html``)."""
    selection = default_selection(query, db, window_s, symbols, end)
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(collect(query, selection)), encoding="utf-8")
    return path
