"""A fake Slack Web API on loopback that records every call and can be told to fail.

Point `WebClient(base_url=fake.api_url)` (or SLACK_API_URL) at it, and put `fake.response_url(..)`
in the payloads sent to the app: both kinds of request are recorded as `Call`s. Failures are
scripted per method as a queue (`fake.script("chat.postMessage", rate_limited(1), ok())`), and a
standing delay (`fake.slow("chat.postMessage", 2)`) stands in for a slow Slack; `delayed(s)`
holds one answer past a client's timeout while the message is posted all the same, as Slack
does. Every posted message is kept in its conversation's history (a user id's DM is the channel
`conversations.open` gives), with its metadata, for `conversations.history`; `fake.clock` gives
the instants its `ts` are made of (set it to a test's clock). Listeners run in threads, so tests
wait with `fake.wait_for(...)`, which polls; they never sleep blindly.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

RESPONSE_URL = "response_url"
"""The `Call.method` of a POST to a response_url."""
UPLOAD_URL = "upload_url"
# What an app installed from manifest.yml is granted; Slack names it on every Web API answer.
GRANTED_SCOPES = (
    "commands,chat:write,channels:history,groups:history,im:history,files:write,im:write,"
    "usergroups:write"
)
"""The `Call.method` of a POST of a file's bytes to an upload URL (`response_id`: the file id)."""


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str  # Web API method ("chat.postMessage") or RESPONSE_URL
    args: dict[str, Any]
    headers: dict[str, str]  # lower-case names
    path: str
    response_id: str | None = None  # RESPONSE_URL: the id in /response/<id>; UPLOAD_URL: file id
    body: bytes = b""  # UPLOAD_URL: the bytes as received

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def json_arg(self, name: str) -> Any:
        """An argument that form-encoded clients send as a JSON string (blocks, view)."""
        value = self.args.get(name)
        return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: status, JSON body (None: the default success), headers, delay."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None


def ok(**extra: Any) -> Scripted:
    """The method's normal success, with `extra` merged in."""
    return Scripted(body={"ok": True, **extra} if extra else None)


def error(code: str, status: int = 200) -> Scripted:
    return Scripted(status=status, body={"ok": False, "error": code})


def rate_limited(retry_after: int = 1) -> Scripted:
    return Scripted(
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": str(retry_after)},
    )


def server_error(status: int = 500) -> Scripted:
    return Scripted(status=status, raw=b"<html>upstream trouble</html>")


def delayed(seconds: float, then: Scripted | None = None) -> Scripted:
    """Answer after `seconds` (a client with a shorter timeout sees a timeout)."""
    base = then or Scripted()
    return Scripted(base.status, base.body, base.headers, seconds, base.raw)


class FakeSlack:
    """The server; start() binds an ephemeral loopback port, stop() releases it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._scripts: dict[str, deque[Scripted]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._ts = itertools.count(1)
        self.clock: Callable[[], float] = time.time  # seconds since the epoch, for each ts
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)  # newest last
        self._file_ids = itertools.count(1)
        #: file id → (filename, declared length), from files.getUploadURLExternal
        self.upload_tickets: dict[str, tuple[str, int]] = {}
        self.connections = 0  # TCP connections accepted, to see whether clients reuse them
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without this a kept-open connection
            # waits out the client's delayed ACK (40 ms) on every answer, as Slack's servers do not.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake.connections += 1

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def lower_priority(self, nice: int) -> None:
        """Run the server's threads at a lower CPU priority (Linux: nice is per thread).

        For benchmarks on one machine: the real Slack does not share our CPUs, so its stand-in
        should not take them from the process being measured. Threads started for connections
        inherit the serving thread's priority.
        """
        assert self._thread is not None and self._thread.native_id is not None
        os.setpriority(os.PRIO_PROCESS, self._thread.native_id, nice)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL / WebClient(base_url=...) should be."""
        return self.base_url + "api/"

    def response_url(self, response_id: str = "r1") -> str:
        return f"{self.base_url}response/{response_id}"

    # -- scripting -----------------------------------------------------------------------------

    def script(self, method: str, *answers: Scripted) -> None:
        """Queue answers for the next calls of `method` (then back to the default success)."""
        with self._lock:
            self._scripts[method].extend(answers)

    def slow(self, method: str, seconds: float) -> None:
        """Delay every answer to `method` by `seconds` until changed."""
        with self._lock:
            self._delays[method] = seconds

    # -- recorder ------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        what: str | Callable[[Call], bool],
        *,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Call]:
        """The calls matching `what` (a method name or a predicate) once there are `count`."""
        matches: Callable[[Call], bool] = (
            (lambda c: c.method == what) if isinstance(what, str) else what
        )
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls if matches(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [c.method for c in self.calls]
                raise AssertionError(
                    f"waited {timeout}s for {count} call(s) matching {what!r}; saw {seen}"
                )
            time.sleep(0.01)

    # -- the HTTP side -------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        # A client sending through an HTTP proxy names the whole URL (absolute form): the fake
        # then stands in for the proxy too, and the host asked for is in the Host header.
        path = urlsplit(request.path).path if "://" in request.path else request.path
        path = path.split("?", 1)[0]
        if path.startswith("/upload/"):
            call = Call(
                method=UPLOAD_URL,
                args={},
                headers=headers,
                path=path,
                response_id=path[len("/upload/") :],
                body=raw,
            )
            with self._lock:
                self._calls.append(call)
                queue = self._scripts.get(UPLOAD_URL)
                answer = queue.popleft() if queue else Scripted()
            _write(
                request,
                answer.status,
                answer.raw or b"OK - " + str(len(raw)).encode(),
                "text/plain",
            )
            return
        args = _parse_body(raw, headers.get("content-type", ""))
        if path.startswith("/api/"):
            call = Call(method=path[len("/api/") :], args=args, headers=headers, path=path)
        elif path.startswith("/response/"):
            call = Call(
                method=RESPONSE_URL,
                args=args,
                headers=headers,
                path=path,
                response_id=path[len("/response/") :],
            )
        else:
            _write(request, 404, b"not found", "text/plain")
            return
        with self._lock:
            self._calls.append(call)
            queue = self._scripts.get(call.method)
            scripted = queue.popleft() if queue else Scripted()
            standing = self._delays.get(call.method, 0.0)
            posted = self._post(call) if _succeeds(call, scripted) else None
        pause = max(standing, scripted.delay)
        if pause:
            time.sleep(pause)
        if scripted.raw is not None:
            _write(request, scripted.status, scripted.raw, "text/html", scripted.headers)
            return
        if call.method == RESPONSE_URL:
            body: bytes = b"ok" if scripted.body is None else json.dumps(scripted.body).encode()
            _write(request, scripted.status, body, "text/plain", scripted.headers)
            return
        payload = scripted.body if scripted.body is not None else self._default(call, posted)
        _write(
            request,
            scripted.status,
            json.dumps(payload).encode(),
            "application/json; charset=utf-8",
            {"X-OAuth-Scopes": GRANTED_SCOPES, **scripted.headers},
        )

    def _new_ts(self) -> str:
        return f"{int(self.clock())}.{next(self._ts):06d}"

    def _post(self, call: Call) -> dict[str, Any] | None:
        """Keep a message posted by `call` in its conversation's history (lock held)."""
        if call.method != "chat.postMessage":
            return None
        ts = self._new_ts()
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "text": call.args.get("text"),
            "bot_id": "B0BOT",
        }
        metadata = call.json_arg("metadata")
        if metadata:
            message["metadata"] = metadata
        self.history[dm_of(str(call.args.get("channel", "")))].append(message)
        return message

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """The messages posted to `channel` (or a user's DM), oldest first."""
        with self._lock:
            return list(self.history[dm_of(channel)])

    def _history(self, a: dict[str, Any]) -> dict[str, Any]:
        channel = str(a.get("channel", ""))
        if channel[:1] in {"U", "W"}:
            return {"ok": False, "error": "channel_not_found"}  # a DM is read by its D… id
        oldest = float(a.get("oldest") or 0)
        limit = int(a.get("limit") or 100)
        start = int(a.get("cursor") or 0)
        with_meta = str(a.get("include_all_metadata", "")).lower() in {"true", "1"}
        with self._lock:
            newest_first = [m for m in reversed(self.history[channel]) if float(m["ts"]) > oldest]
        page = newest_first[start : start + limit]
        if not with_meta:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(newest_first)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _default(self, call: Call, posted: dict[str, Any] | None = None) -> dict[str, Any]:
        """A plausible success for the methods the bot uses."""
        a = call.args
        ts = posted["ts"] if posted is not None else self._new_ts()
        match call.method:
            case "auth.test":
                return {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake Workspace",
                    "user": "chatops",
                    "team_id": "T0FAKE",
                    "user_id": "U0BOT",
                    "bot_id": "B0BOT",
                }
            case "chat.postMessage":
                return {
                    "ok": True,
                    "channel": a.get("channel"),
                    "ts": ts,
                    "message": posted or {"text": a.get("text"), "ts": ts, "bot_id": "B0BOT"},
                }
            case "conversations.history":
                return self._history(a)
            case "chat.update":
                return {"ok": True, "channel": a.get("channel"), "ts": a.get("ts"), "text": ""}
            case "chat.postEphemeral":
                return {"ok": True, "message_ts": ts}
            case "views.publish":
                return {"ok": True, "view": {"id": "V0FAKE", "type": "home"}}
            case "chat.getPermalink":
                channel, ts = str(a.get("channel")), str(a.get("message_ts"))
                link = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
                return {"ok": True, "channel": channel, "permalink": link}
            case "views.open":
                return {"ok": True, "view": {"id": "V0MODAL", "type": "modal"}}
            case "conversations.open":
                users = str(a.get("users", "U0"))
                return {"ok": True, "channel": {"id": dm_of(users.split(",")[0])}}
            case "usergroups.users.update":
                return {
                    "ok": True,
                    "usergroup": {"id": a.get("usergroup"), "users": str(a.get("users", ""))},
                }
            case "files.getUploadURLExternal":
                file_id = f"F{next(self._file_ids):08d}"
                with self._lock:
                    self.upload_tickets[file_id] = (
                        str(a.get("filename")),
                        int(a.get("length", -1)),
                    )
                return {
                    "ok": True,
                    "upload_url": f"{self.base_url}upload/{file_id}",
                    "file_id": file_id,
                }
            case "files.completeUploadExternal":
                files = call.json_arg("files") or []
                return {
                    "ok": True,
                    "files": [{"id": f.get("id"), "title": f.get("title")} for f in files],
                }
            case "apps.connections.open":
                return {"ok": True, "url": "ws://127.0.0.1:9/link"}
        return {"ok": False, "error": "unknown_method"}


def dm_of(channel: str) -> str:
    """The DM channel id of a user id (what `conversations.open` answers); others unchanged."""
    return "D" + channel[1:9] if channel[:1] in {"U", "W"} else channel


def _succeeds(call: Call, scripted: Scripted) -> bool:
    """Whether the scripted answer is a success (so a post is kept in history)."""
    if scripted.raw is not None or scripted.status != 200:
        return False
    return scripted.body is None or scripted.body.get("ok") is True


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw.decode("utf-8")
    if "json" in content_type:
        value = json.loads(text)
        return value if isinstance(value, dict) else {"_": value}
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text).items()}


def _write(
    request: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test); nothing to record


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A started fake, stopped after the test."""
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()
