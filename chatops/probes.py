"""`/healthz`, `/readyz` and `/metrics`: the operator's side of any chatops process.

`Probes.answer` is mounted in front of the Slack HTTP server (`chatops.slack.http`), and
`ProbeServer` serves it alone on its own port for processes without one: `chatops worker`, and
`chatops serve` in Socket Mode (`CHATOPS_METRICS_PORT`).

`/metrics` is the process's Prometheus registry (what `chatops.metrics` recorded, work
processes' too) plus gauges read from the database at scrape time: the coverage gaps within the
check horizon per team and the age of the freshest worker heartbeat. Those are computed at most
once per `GAUGE_CACHE_S`, so a busy scraper cannot make the bot prove weeks of coverage per
second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlmodel import select

from chatops import heartbeat
from chatops.clock import Clock, system_clock
from chatops.db import Database
from chatops.health import Readiness, Verdict
from chatops.oncall.cache import team_rota
from chatops.settings import Settings
from rota.coverage import coverage_gaps
from rota.models import Team

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

HEALTH_PATH, READY_PATH, METRICS_PATH = "/healthz", "/readyz", "/metrics"
GAUGE_CACHE_S = 30.0


class DatabaseGauges(Collector):
    """Gauges read from the database on scrape: coverage gaps in the horizon, heartbeat age."""

    def __init__(self, db: Database, *, horizon_days: int, clock: Clock = system_clock) -> None:
        self.db, self.horizon, self.clock = db, timedelta(days=horizon_days), clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > GAUGE_CACHE_S:
                self._cached = (time.monotonic(), self._read())
            yield from self._cached[1]

    def _read(self) -> list[Metric]:
        now = self.clock()
        gaps = GaugeMetricFamily(
            "chatops_coverage_gaps",
            "Intervals within the check horizon with fewer responders than required, by team.",
            labels=["team"],
        )
        uncovered = GaugeMetricFamily(
            "chatops_coverage_gap_seconds",
            "Seconds within the check horizon with fewer responders than required, by team.",
            labels=["team"],
        )
        first = GaugeMetricFamily(
            "chatops_coverage_next_gap_seconds",
            "Seconds from now to the start of the first gap in the horizon (teams with one).",
            labels=["team"],
        )
        age = GaugeMetricFamily(
            "chatops_worker_heartbeat_age_seconds",
            "Seconds since any worker last started a pass (absent: no worker ever ran).",
        )
        try:
            with self.db.transaction() as session:
                for team in session.exec(select(Team)).all():
                    found = coverage_gaps(team_rota(session, team), now, now + self.horizon)
                    gaps.add_metric([team.name], len(found))
                    seconds = sum((g.end - g.start).total_seconds() for g in found)
                    uncovered.add_metric([team.name], seconds)
                    if found:
                        wait = (found[0].start - now).total_seconds()
                        first.add_metric([team.name], max(wait, 0.0))
            seen = heartbeat.latest(self.db)
        except Exception:
            log.warning("metrics: database gauges unavailable", exc_info=True)
            return []
        if seen is not None:
            age.add_metric([], max((now - seen).total_seconds(), 0.0))
        return [gaps, uncovered, first, age]


class Probes:
    """Answers the three probe paths; `answer` returns None for any other path."""

    def __init__(
        self,
        readiness: Readiness,
        gauges: DatabaseGauges | None = None,
        *,
        metrics: bool = True,
    ) -> None:
        self.readiness = readiness
        self.metrics = metrics
        self._local = CollectorRegistry(auto_describe=True)
        if gauges is not None:
            self._local.register(gauges)

    def answer(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes] | None:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in {"GET", "HEAD"}:
            return None
        if path == HEALTH_PATH:
            return _reply(start_response, "200 OK", "text/plain; charset=utf-8", b"ok\n")
        if path == READY_PATH:
            return self._ready(start_response)
        if path == METRICS_PATH and self.metrics:
            body = generate_latest(REGISTRY) + generate_latest(self._local)
            return _reply(start_response, "200 OK", CONTENT_TYPE_LATEST, body)
        return None

    def _ready(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            verdict = self.readiness()
        except Exception:
            log.exception("readiness check failed")
            verdict = Verdict(False, "readiness check failed")
        status = "200 OK" if verdict.ready else "503 Service Unavailable"
        body = json.dumps(verdict.body(), sort_keys=True).encode() + b"\n"
        return _reply(start_response, status, "application/json", body)

    def wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answered = self.answer(environ, start_response)
        if answered is not None:
            return answered
        return _reply(start_response, "404 Not Found", "text/plain; charset=utf-8", b"")


def _reply(
    start_response: StartResponse, status: str, content_type: str, body: bytes
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    timeout = 10  # a probe that does not finish its request in 10 s is dropped

    def log_message(self, format: str, *args: object) -> None:
        log.debug("probe %s", format % args)


class ProbeServer:
    """`Probes` on their own port, in a background thread; `start()` returns the bound port."""

    def __init__(self, probes: Probes, *, host: str = "0.0.0.0", port: int = 0) -> None:
        self.probes, self.host, self.requested = probes, host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Bind and serve; raises OSError when the port is taken."""
        if self._server is None:
            server: _Server = make_server(
                self.host, self.requested, self.probes.wsgi, _Server, _Handler
            )
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="chatops-probes",
                daemon=True,
            )
            self._thread.start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(5)
        self._server, self._thread = None, None


def probes_for(settings: Settings, db: Database, *, clock: Clock = system_clock) -> Probes:
    """The probes of one process on `db`, as the CLI builds them."""
    readiness = Readiness(
        db,
        clock=clock,
        need_worker=settings.ready_needs_worker,
        stale_after=settings.duration(settings.worker_stale_after),
    )
    gauges = DatabaseGauges(db, horizon_days=settings.check_horizon_days, clock=clock)
    return Probes(readiness, gauges)
