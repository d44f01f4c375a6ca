"""The fake Slack Web API of tests/support/fakeslack.py, also noting when each request arrived.

Benchmarks time what reaches Slack (an answer at a `response_url`, a page) against what was
sent, across processes: `time.monotonic()` is one clock for every process on Linux.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

from tests.support.fakeslack import FakeSlack


class TimedFakeSlack(FakeSlack):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []  # (monotonic instant, request path)

    def start(self) -> TimedFakeSlack:
        super().start()
        # A SIGKILLed worker resets its connection: expected here, not worth a traceback.
        assert self._server is not None
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        return self

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        super()._handle(request)
        with self._lock:
            self.arrivals.append((arrived, request.path))

    def arrived(self, prefix: str) -> list[tuple[float, str]]:
        """The arrivals whose path starts with `prefix` ("/api/chat.postMessage", "/response/")."""
        with self._lock:
            return [a for a in self.arrivals if a[1].startswith(prefix)]
