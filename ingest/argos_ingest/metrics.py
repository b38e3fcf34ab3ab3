"""Ingest metrics (Prometheus) and the tiny HTTP server for ``/metrics``, ``/healthz`` and ``/readyz``.

Each :class:`IngestMetrics` owns its own ``CollectorRegistry`` so tests and benchmarks can run several
feeds in one process. Messages per second is ``rate(argos_ingest_messages_total[1m])``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from argos.contract import Reject, Trade

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def market_label(venue: str, market: str) -> str:
    """The ``market`` label of a venue's metrics: Binance (and the synthetic market) keep bare market names, the
    other venues are prefixed (``okx:swap``), so one process streaming several venues keeps them apart."""
    return market if venue in ("binance", "synthetic") else f"{venue}:{market}"


class IngestMetrics:
    """Counters and gauges of one ingest process; ``observe_*`` methods keep call sites one line."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("argos_ingest_messages", "Trades emitted.", ["market", "symbol"], registry=r)
        self.rejects = Counter("argos_ingest_rejects", "Payloads turned into rejects.", ["market"], registry=r)
        self.reconnects = Counter(
            "argos_ingest_reconnects", "Reconnects (drop, scheduled, shutdown).", ["market", "reason"], registry=r
        )
        self.gaps = Counter("argos_ingest_gaps", "Trade id gaps detected.", ["market", "symbol"], registry=r)
        self.backfilled = Counter(
            "argos_ingest_backfilled_trades", "Trades recovered over REST.", ["market", "symbol"], registry=r
        )
        self.backfill_failures = Counter(
            "argos_ingest_backfill_failures", "Gaps REST could not fill.", ["market", "symbol"], registry=r
        )
        self.duplicates = Counter(
            "argos_ingest_duplicates", "Trades dropped as already emitted.", ["market", "symbol"], registry=r
        )
        self.rate_limited = Counter("argos_ingest_rate_limited", "HTTP 429/418 answers.", ["market"], registry=r)
        self.unrecoverable = Counter(
            "argos_ingest_unrecoverable_trades", "Trade ids missed and not backfilled (beyond the horizon, or REST "
            "could not return them).", ["market", "symbol"], registry=r)
        self.late = Counter(
            "argos_ingest_late_trades", "Unrecoverable ids that arrived late on the stream after all (emitted; "
            "unrecoverable minus late is what was lost).", ["market", "symbol"], registry=r)
        self.resets = Counter("argos_ingest_id_resets", "Trade id sequences that restarted far below the last id "
                              "with newer trade times (re-seeded).", ["market", "symbol"], registry=r)
        self.delivery_failures = Counter("argos_ingest_delivery_failures", "Records the sink could not deliver "
                                         "(the ingest stops).", registry=r)
        self.silent_alarms = Counter(
            "argos_ingest_silent_stream_alarms", "Subscribed streams found silent.", ["market", "symbol"], registry=r
        )
        self.silent = Gauge("argos_ingest_stream_silent", "1 while a stream is silent.", ["market", "symbol"],
                            registry=r)
        self.connected = Gauge("argos_ingest_connected", "Open market-data connections.", ["market"], registry=r)
        self.lag = Histogram("argos_ingest_lag_seconds", "ingest_time - event_time.", ["market"],
                             buckets=_LAG_BUCKETS, registry=r)
        self.last_message = Gauge("argos_ingest_last_message_timestamp_seconds", "When the last record arrived.",
                                  registry=r)
        self._last_message_monotonic: float | None = None
        self.sink_failed = False
        self._open: dict[str, int] = {}

    def observe(self, record: Trade | Reject, market: str) -> None:
        """Count one emitted record (trade or reject) and its lag."""
        self._last_message_monotonic = time.monotonic()
        self.last_message.set(time.time())
        if isinstance(record, Trade):
            label = market_label(record.venue, record.market)
            self.messages.labels(label, record.symbol).inc()
            self.lag.labels(label).observe(max(0, record.ingest_time - record.event_time) / 1e6)
        else:
            self.rejects.labels(market).inc()

    def connection_opened(self, market: str) -> None:
        self._open[market] = self._open.get(market, 0) + 1
        self.connected.labels(market).set(self._open[market])

    def connection_closed(self, market: str) -> None:
        self._open[market] = max(0, self._open.get(market, 0) - 1)
        self.connected.labels(market).set(self._open[market])

    def delivery_failed(self, n: int = 1) -> None:
        """The sink lost ``n`` records: count them and stay unready from now on."""
        self.delivery_failures.inc(n)
        self.sink_failed = True

    def receiving(self, within_seconds: float = 30.0) -> bool:
        """Ready: a connection is open, a record arrived within ``within_seconds``, and the sink delivers."""
        if self.sink_failed:
            return False
        last = self._last_message_monotonic
        connected = any(n > 0 for n in self._open.values())
        return connected and last is not None and time.monotonic() - last <= within_seconds

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent), e.g. ``value("argos_ingest_reconnects_total", market="spot")``.

        Sums over the labels not given, so tests and the CLI can read totals.
        """
        total = 0.0
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total


class HttpServer:
    """A running health/metrics server on a daemon thread; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self.port: int = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="argos-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(metrics: IngestMetrics, ready: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._reply(200, b"ok\n")
            elif path == "/readyz":
                try:
                    is_ready = bool(ready())
                except Exception:
                    is_ready = False
                if is_ready:
                    self._reply(200, b"ready\n")
                else:
                    self._reply(503, b"not ready: no connection, no recent messages, or records not delivered\n")
            else:
                self._reply(404, b"not found: try /metrics, /healthz, /readyz\n")

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: stay quiet
            pass

    return Handler


def serve_http(port: int, metrics: IngestMetrics, ready: Callable[[], bool], host: str = "127.0.0.1") -> HttpServer:
    """Serve ``/metrics``, ``/healthz`` (alive) and ``/readyz`` (``ready()``) on ``host:port`` (0: any free port).

    Runs on its own daemon thread, so it answers even while the ingest's event loop is busy, and the
    caller needs no event loop. ``ready`` is typically ``lambda: metrics.receiving(30)``.
    """
    return HttpServer(ThreadingHTTPServer((host, port), _handler(metrics, ready)))
