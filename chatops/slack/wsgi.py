"""A threaded WSGI server from the standard library that holds up when the internet leans on it.

- at most `max_threads` requests are served at once; one more waits up to `slot_wait` seconds
  for a slot, without a thread (the accepting thread waits; later connections wait in the
  kernel's backlog), and is answered 503 if none frees: a burst of real commands is served a
  few milliseconds late, not refused, while 300 half-sent requests cannot hold 300 threads. It
  waits only while a slot is held by a young request; slots all held by old, trickling
  connections get the 503 at once, so they cannot make every newcomer wait;
- every connection has `read_timeout` seconds, in total, to send its request: each read waits at
  most that long, and a watchdog closes a connection still open after it (a client trickling a
  byte every few seconds cannot hold a slot).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

log = logging.getLogger("chatops.slack.http")  # the server's records stay under one logger

#: Requests served at once; more are answered 503 without a thread.
MAX_THREADS = 64
#: Seconds a request waits for one of those slots before it is answered 503: well inside
#: Slack's 3 s, so a burst is acknowledged late rather than refused.
SLOT_WAIT_S = 1.0
#: Seconds a connection has to send its whole request (headers and body).
READ_TIMEOUT_S = 10.0
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nbusy\n"
)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # The standard library's backlog of 5 resets connections when many clients arrive at once.
    request_queue_size = 256
    max_threads = MAX_THREADS
    slot_wait = SLOT_WAIT_S
    read_timeout = READ_TIMEOUT_S

    def server_activate(self) -> None:
        super().server_activate()
        self._slots = threading.BoundedSemaphore(self.max_threads)
        self._deadlines: dict[socket.socket, float] = {}
        self._deadlines_lock = threading.Lock()
        self._watching = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="http-watchdog", daemon=True)
        self._watchdog.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the request once a slot is free; otherwise 503, from this thread.

        It waits (up to `slot_wait`) only while some slot is held by a request younger than
        that, one likely to finish: slots all held by old connections (clients trickling
        bytes) will not free in time, so the 503 is given at once, as is the next one.
        """
        if not self._slots.acquire(blocking=False) and not (
            self._some_slot_is_young() and self._slots.acquire(timeout=self.slot_wait)
        ):
            try:
                request.settimeout(0.5)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            log.warning("http busy: request refused", extra={"threads": self.max_threads})
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def _some_slot_is_young(self) -> bool:
        young = time.monotonic() + self.read_timeout - max(self.slot_wait, 0.1)
        with self._deadlines_lock:
            return any(due > young for due in self._deadlines.values())

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._deadlines_lock:
            self._deadlines[request] = time.monotonic() + self.read_timeout
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._deadlines_lock:
                self._deadlines.pop(request, None)
            self._slots.release()

    def _watch(self) -> None:
        """Close connections past their deadline: their blocked read returns, the slot frees."""
        while not self._watching.wait(min(0.5, self.read_timeout / 4)):
            now = time.monotonic()
            with self._deadlines_lock:
                late = [s for s, due in self._deadlines.items() if due < now]
                for sock in late:
                    del self._deadlines[sock]
            for sock in late:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if late:
                log.warning("http: closed slow connections", extra={"connections": len(late)})

    def server_close(self) -> None:
        self._watching.set()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a dropped client connection is not news.
        log.warning("http connection error", exc_info=True)


class LoggingRequestHandler(WSGIRequestHandler):
    # Each read of the request waits at most this long (the watchdog bounds the total).
    timeout = READ_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        # Paths only: Slack puts nothing secret in them, and bodies are never logged.
        log.debug("http %s", format % args)
