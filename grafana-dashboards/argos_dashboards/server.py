"""Serve the embedded dashboard from the process that owns the database, on a background thread.

The demo owns the embedded ClickHouse (one process per chDB directory), so the page cannot open the
database itself: the caller hands over a query function backed by its own client. Queries from the page
are serialised here and cached for a second, so any number of browser tabs cost one query round.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from argos.status import read_status
from argos_dashboards.data import QueryFn, default_selection
from argos_dashboards.page import collect, plotly_js, render_page, to_json

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """A query parameter out of bounds; the message names it."""


class _Dashboard:
    """Builds payloads for requests: one at a time, reused for ``cache_s`` seconds."""

    def __init__(self, query: QueryFn, db: str, window_s: int, refresh_s: int, cache_s: float = 1.0) -> None:
        self.query, self.db, self.window_s, self.refresh_s, self.cache_s = query, db, window_s, refresh_s, cache_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}

    MAX_WINDOW_S = 31 * 86_400
    CACHE_ENTRIES = 16  # alternating selections (tabs with other windows) reuse their payloads too

    def selection_key(self, params: dict[str, list[str]]) -> tuple[int, tuple[str, ...]]:
        """``(window, symbols)`` of a request; :class:`BadRequest` naming the parameter when it is out of bounds."""
        raw = params.get("window", [str(self.window_s)])[0]
        if not raw.isdigit() or not 60 <= int(raw) <= self.MAX_WINDOW_S:
            raise BadRequest(f"window={raw[:20]!r}: give whole seconds from 60 to {self.MAX_WINDOW_S}")
        symbols = tuple(sorted({s.upper() for v in params.get("symbols", []) for s in v.split(",") if s}))
        if len(symbols) > 50 or not all(re.fullmatch(r"[A-Z0-9_-]{2,30}", s) for s in symbols):
            raise BadRequest("symbols: at most 50, each like BTCUSDT")
        return int(raw), symbols

    def payload(self, params: dict[str, list[str]]) -> dict[str, Any]:
        key = self.selection_key(params)
        window, symbols = key
        with self._lock:
            cached = self._cache.get(key)
            if cached and time.monotonic() - cached[0] < self.cache_s:
                return cached[1]
            selection = default_selection(self.query, self.db, window, list(symbols) or None)
            payload = collect(self.query, selection, self.refresh_s)
            if len(self._cache) >= self.CACHE_ENTRIES:
                del self._cache[min(self._cache, key=lambda k: self._cache[k][0])]
            self._cache[key] = (time.monotonic(), payload)
            return payload


def _handler(board: _Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = parse_qs(url.query)
            try:
                if url.path in ("/", "/index.html"):
                    body = render_page(board.payload(params), plotly_src="plotly.min.js")
                    self._send(body.encode(), "text/html; charset=utf-8")
                elif url.path == "/api/dashboard.json":
                    self._send(to_json(board.payload(params)).encode(), "application/json")
                elif url.path == "/api/status.json":
                    status = read_status(lambda sql: board.query(sql).to_pylist(), board.db)
                    self._send(json.dumps(status).encode(), "application/json")
                elif url.path == "/plotly.min.js":
                    self._send(plotly_js().encode(), "application/javascript", cache=True)
                elif url.path == "/healthz":
                    self._send(b"ok", "text/plain")
                else:
                    self.send_error(HTTPStatus.NOT_FOUND)
            except BadRequest as exc:  # a bad query parameter: say which, do not touch the database
                self.send_error(HTTPStatus.BAD_REQUEST, str(exc)[:200])
            except Exception as exc:  # report, keep serving
                log.exception("dashboard request %s failed", self.path)
                self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc).splitlines()[0][:200])

        def _send(self, body: bytes, content_type: str, cache: bool = False) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("dashboard %s", fmt % args)

    return Handler


def start_dashboard_server(
    query: QueryFn,
    host: str = "127.0.0.1",
    port: int = 8050,
    *,
    db: str = "argos",
    window_s: int = 3600,
    refresh_s: int = 5,
) -> tuple[str, Callable[[], None]]:
    """Serve the dashboard on a daemon thread; return its URL and a function that stops it.

    ``query`` takes SQL and returns a pyarrow Table or pandas DataFrame; it is called from the server
    thread only, one call at a time. ``port=0`` picks a free port.
    """
    board = _Dashboard(query, db, window_s, refresh_s)
    server = ThreadingHTTPServer((host, port), _handler(board))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="argos-dashboard", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host
    url = f"http://{shown}:{bound_port}/"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return url, stop
