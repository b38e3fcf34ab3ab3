"""The embedded dashboard renders in headless Chromium (Debian's package) with every panel drawn, served
live and as a self-contained report; the screenshot becomes docs/img/dashboard.png."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from argos_dashboards.page import write_report
from argos_dashboards.panels import PANELS, Scope
from argos_dashboards.server import start_dashboard_server

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
SYMBOL_COUNT = 3


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; missing is a failure (CI installs it), never a silent skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed. Fix: apt-get update && apt-get install -y chromium")
    return found


def run_chromium(binary: str, tmp: Path, url: str, *args: str) -> str:
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--virtual-time-budget=4000", *args, url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def drawn_panels(dom: str) -> dict[str, int]:
    """Panel key -> number of plotted points, as the page's script recorded them after drawing."""
    found = re.findall(r'<section class="panel"[^>]*data-key="(\w+)"[^>]*data-points="(\d+)"', dom)
    return {f"{key}#{i}": int(points) for i, (key, points) in enumerate(found)}


def expected_panel_count() -> int:
    per_symbol = sum(1 for p in PANELS if p.scope is Scope.SYMBOL)
    return len(PANELS) - per_symbol + per_symbol * SYMBOL_COUNT


def assert_every_panel_drawn(dom: str) -> None:
    panels = drawn_panels(dom)
    assert len(panels) == expected_panel_count(), dom[:2000]
    empty = [key for key, points in panels.items() if points == 0]
    assert not empty, f"panels without data: {empty}"
    assert "js-plotly-plot" in dom


@pytest.fixture(scope="module")
def served(query, market) -> Iterator[str]:
    url, stop = start_dashboard_server(query, "127.0.0.1", 0, db=market.selection().db, refresh_s=5)
    yield url
    stop()


def test_server_answers_json_and_page(served: str) -> None:
    with urllib.request.urlopen(served + "api/dashboard.json", timeout=30) as response:
        payload = json.load(response)
    assert [s["title"] for s in payload["sections"]] == ["Overview", "Pipeline", "Across venues", "BTCUSDT",
                                                                 "ETHUSDT", "SOLUSDT"]
    assert all(p["rows"] > 0 and not p["error"] for s in payload["sections"] for p in s["panels"])
    with urllib.request.urlopen(served + "healthz", timeout=5) as response:
        assert response.read() == b"ok"


def test_out_of_bounds_parameters_are_refused_without_a_query(served: str) -> None:
    for query in ("window=1e14", "window=99999999999", "window=-5", "symbols=" + ",".join(["BTCUSDT"] * 60 + ["x;y"])):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(served + "api/dashboard.json?" + query, timeout=10)
        assert refused.value.code == 400, query  # before: window=1e14 was a 500 from the database


def test_live_page_renders_every_panel_and_screenshot(chromium: str, served: str, tmp_path: Path) -> None:
    assert_every_panel_drawn(run_chromium(chromium, tmp_path, served, "--dump-dom"))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot = tmp_path / "dashboard.png"
    run_chromium(chromium, tmp_path, served, f"--screenshot={shot}", "--window-size=1600,1540")
    assert shot.stat().st_size > 50_000
    shutil.copyfile(shot, SCREENSHOT)


def test_report_is_self_contained(chromium: str, query, market, tmp_path: Path) -> None:
    out = write_report(query, tmp_path / "report.html", db=market.selection().db)
    text = out.read_text()
    assert "<script src=" not in text and "http://" not in text.split("<script>", 1)[0]
    assert_every_panel_drawn(run_chromium(chromium, tmp_path, out.as_uri(), "--dump-dom"))
