"""`chatops serve`: check the bot token, then serve Slack over Socket Mode or HTTP until stopped.

Startup is where operators meet the bot first, so it must explain itself in one line: an
unreachable Slack is retried with capped, jittered exponential backoff and one stderr line per
attempt (a bot that starts before the network comes up must not crash-loop); a refused token ends
with one line naming the variable and exit code 2. Ctrl-C and SIGTERM stop cleanly with exit 0.

Over Socket Mode the connection is then watched: one lost without a close frame (a reset, a
network cut short) or gone silent is replaced the same way, since every minute without it is a
minute in which nobody can page the on-call person from Slack.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import TypeVar
from urllib.parse import urlsplit

import websocket
from slack_bolt import App
from slack_sdk import WebClient

from chatops.clock import Clock, system_clock
from chatops.db import Database
from chatops.intake.events import intake_server
from chatops.oncall.feeds import FeedSource, feed_server
from chatops.probes import Probes, ProbeServer
from chatops.settings import Settings
from chatops.slack.app import EVENTS_PATH, BotIdentity, build_web_client, serving_app
from chatops.slack.http import IntakeHandler, SlackHttpServer
from chatops.slack.reach import (
    Backoff,
    Fatal,
    Unreachable,
    checked,
    history_scopes_warning,
    missing_history_scopes,
    os_reason,
    websocket_reason,
)
from chatops.slack.socket_mode import SocketModeClient

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_GAVE_UP = 1
EXIT_CONFIG = 2
STARTUP_TIMEOUT_S = 10
_WATCH_S = 0.1  # how often serve() looks at the stop event while connected
# Slack's answers meaning "this token is wrong", as opposed to "Slack is having a bad day".
_T = TypeVar("_T")


Worker = Callable[[threading.Event], None]
"""The timer worker's loop: runs in its own thread and returns soon after the event is set."""


class _Stop(BaseException):
    """Raised by the signal handler to cut a blocking startup call short."""


def serve(
    settings: Settings,
    db: Database,
    *,
    port: int,
    worker: bool,
    clock: Clock = system_clock,
    retry_base: float = 1.0,
    retry_max: float = 60.0,
    max_attempts: int | None = None,
    run_worker: Worker | None = None,
    stop: threading.Event | None = None,
    on_listening: Callable[[int], None] | None = None,
    probes: Probes | None = None,
) -> int:
    """Serve Slack until `stop` is set or a signal arrives; return the process exit code.

    `run_worker` is the hook for the timer worker: started in a thread when `worker` is true, and
    handed the stop event. `on_listening` receives the bound HTTP port (useful with port 0).
    `probes` answer on the HTTP port, and on `CHATOPS_METRICS_PORT` from the start (so an
    orchestrator sees the process alive while Slack is still being reached).
    """
    stop = stop or threading.Event()
    backoff = Backoff(base=retry_base, cap=retry_max)
    where = _display_url(settings.slack_api_url)
    with _signals_stop(stop) as interruptible, ExitStack() as cleanup:
        try:
            _start_probes(cleanup, probes, settings.metrics_port)
            probe = _startup_client(settings)
            auth = _until_reachable(
                lambda: checked(probe.auth_test, "SLACK_BOT_TOKEN", where),
                where=where,
                backoff=backoff,
                stop=stop,
                max_attempts=max_attempts,
            )
            if auth is None:
                return EXIT_OK if stop.is_set() else EXIT_GAVE_UP
            identity = BotIdentity.from_auth_test(auth)
            log.info(
                "slack token accepted",
                extra={"team_id": identity.team_id, "bot_user_id": identity.user_id},
            )
            if missing := missing_history_scopes(auth.headers):
                print(history_scopes_warning(missing), file=sys.stderr, flush=True)
            served = serving_app(
                settings, db, client=build_web_client(settings), clock=clock, identity=identity
            )
            threads = _start_worker(run_worker if worker else None, stop)
            try:
                if settings.socket_mode:
                    return _serve_socket_mode(
                        served.app, settings, where, backoff, stop, max_attempts, interruptible
                    )
                feeds = feed_server(db, clock)
                intake = intake_server(
                    db, clock, report_within=settings.duration(settings.report_within)
                )
                return _serve_http(
                    served.app, port, stop, on_listening, interruptible, feeds, probes, intake
                )
            finally:
                stop.set()
                # Requests have stopped coming: let the work processes answer what they hold.
                served.close()
                for thread in threads:
                    thread.join(timeout=10)
        except Fatal as error:
            print(f"chatops: {error}", file=sys.stderr, flush=True)
            return EXIT_CONFIG
        except _Stop:
            return EXIT_OK


def _serve_http(
    app: App,
    port: int,
    stop: threading.Event,
    on_listening: Callable[[int], None] | None,
    interruptible: threading.Event,
    feeds: FeedSource | None = None,
    probes: Probes | None = None,
    intake: IntakeHandler | None = None,
) -> int:
    server = SlackHttpServer(app, port=port, feeds=feeds, probes=probes, intake=intake)
    try:
        bound = server.start()
    except OSError as error:
        raise Fatal(f"cannot listen on port {port} ({os_reason(error)}); set PORT") from None
    try:
        log.info("listening for Slack over HTTP", extra={"port": bound, "path": EVENTS_PATH})
        if on_listening is not None:
            on_listening(bound)
        _wait(stop, interruptible)
    finally:
        server.stop()
    log.info("stopped")
    return EXIT_OK


def _start_probes(cleanup: ExitStack, probes: Probes | None, port: int | None) -> None:
    """Serve `probes` on their own port until `cleanup` closes (none without a port)."""
    if probes is None or port is None:
        return
    server = ProbeServer(probes, port=port)
    try:
        server.start()
    except OSError as error:
        reason = os_reason(error)
        raise Fatal(f"cannot listen on CHATOPS_METRICS_PORT {port} ({reason})") from None
    cleanup.callback(server.stop)
    log.info("probes and metrics listening", extra={"port": port})


def _serve_socket_mode(
    app: App,
    settings: Settings,
    where: str,
    backoff: Backoff,
    stop: threading.Event,
    max_attempts: int | None,
    interruptible: threading.Event,
) -> int:
    """Connect, then keep a connection: a lost, silent or refreshed one is replaced with backoff."""
    assert settings.slack_app_token is not None
    # apps.connections.open once per attempt, bounded and quiet: the loop here paces attempts.
    client = SocketModeClient(
        app, settings.slack_app_token.get_secret_value(), _startup_client(settings)
    )

    def connect() -> bool:
        url = checked(client.new_url, "SLACK_APP_TOKEN", where)
        try:
            client.open(url)
        except (websocket.WebSocketException, OSError) as error:
            raise Unreachable(websocket_reason(error)) from None
        return True

    try:
        if not _until_reachable(
            connect, where=where, backoff=backoff, stop=stop, max_attempts=max_attempts
        ):
            return EXIT_OK if stop.is_set() else EXIT_GAVE_UP
        log.info("connected to Slack over Socket Mode")
        interruptible.clear()  # from here signals only set `stop`, as in `_wait`
        while not stop.is_set():
            if not client.attention.wait(_WATCH_S):
                continue
            client.attention.clear()  # before looking: what happens from here on is noticed
            if client.is_connected() and not client.refresh_asked():
                continue  # what asked has been replaced already
            if not _until_reachable(
                connect, where=where, backoff=backoff, stop=stop, max_attempts=max_attempts
            ):
                return EXIT_OK if stop.is_set() else EXIT_GAVE_UP
            log.info("connected to Slack over Socket Mode again")
        log.info("stopped")
        return EXIT_OK
    finally:
        client.close()


def _until_reachable(
    attempt: Callable[[], _T],
    *,
    where: str,
    backoff: Backoff,
    stop: threading.Event,
    max_attempts: int | None,
) -> _T | None:
    """Call `attempt` until Slack answers; None when stopped or out of attempts."""
    tries = 0
    while not stop.is_set():
        tries += 1
        try:
            return attempt()
        except Unreachable as error:
            if max_attempts is not None and tries >= max_attempts:
                print(
                    f"chatops: Slack unreachable at {where} ({error.reason}); "
                    f"giving up after {tries} attempt{'s' if tries > 1 else ''}",
                    file=sys.stderr,
                    flush=True,
                )
                return None
            pause = max(backoff.delay(tries), error.retry_after or 0.0)
            print(
                f"chatops: Slack unreachable at {where} ({error.reason}); "
                f"retrying in {_seconds(pause)}",
                file=sys.stderr,
                flush=True,
            )
            stop.wait(pause)
    return None


def _startup_client(settings: Settings) -> WebClient:
    """A client with no retries and a quiet logger: the loop above reports and paces attempts."""
    quiet = logging.Logger("chatops.slack.serve.startup", level=logging.CRITICAL + 1)
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=STARTUP_TIMEOUT_S,
        retry_handlers=[],
        logger=quiet,
    )


def _start_worker(run_worker: Worker | None, stop: threading.Event) -> list[threading.Thread]:
    if run_worker is None:
        return []
    thread = threading.Thread(target=run_worker, args=(stop,), name="chatops-worker", daemon=True)
    thread.start()
    return [thread]


def _wait(stop: threading.Event, interruptible: threading.Event) -> None:
    """Block until stopped. Signals now only set `stop`, so shutdown runs to its end."""
    interruptible.clear()
    # A timeout keeps the main thread waking, so signals are handled promptly on every platform.
    while not stop.wait(0.5):
        pass


@contextmanager
def _signals_stop(stop: threading.Event) -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set `stop`; while the yielded event is set they also raise `_Stop`.

    Raising cuts short a blocking startup call (a connect can take seconds); once serving, the
    caller clears the event so a signal never interrupts the shutdown itself.
    """
    interruptible = threading.Event()
    interruptible.set()
    if threading.current_thread() is not threading.main_thread():
        yield interruptible
        return

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()
        if interruptible.is_set():
            interruptible.clear()
            raise _Stop

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield interruptible
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _display_url(url: str) -> str:
    """The API URL without any user info, for the one-line messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}{parts.path or '/'}"


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 10 or value == int(value) else f"{value:.1f}s"
