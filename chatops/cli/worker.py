"""`chatops worker`: the timer worker on its own, for deployments that scale it apart from
`chatops serve` (which runs one in-process unless told not to).

With `--http-port` (or `CHATOPS_METRICS_PORT`) it also answers `/healthz`, `/readyz` and
`/metrics` on that port, so an orchestrator can probe it and Prometheus can scrape what it sends.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from chatops.cli.common import CliError, Subcommands, open_database
from chatops.clock import system_clock
from chatops.outbox.notifier import SlackNotifier
from chatops.probes import ProbeServer, probes_for
from chatops.settings import Settings
from chatops.slack.reach import history_scopes_warning, missing_history_scopes
from chatops.worker import make_worker, run_due, slack_notifier


def add(sub: Subcommands) -> None:
    """`chatops worker [--once] [--http-port PORT]`."""
    parser = sub.add_parser("worker", help="fire escalation timers and deliver pages")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve /healthz, /readyz and /metrics on PORT (default $CHATOPS_METRICS_PORT; "
        "none when unset)",
    )
    parser.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if settings.slack_bot_token is None:
        raise CliError("SLACK_BOT_TOKEN must be set for the worker to send pages")
    port = args.http_port if args.http_port is not None else settings.metrics_port
    if port is not None and not 0 < port < 65536:
        raise CliError(f"--http-port: {port} is not a port number (1-65535)")
    db = open_database(settings)
    notifier = slack_notifier(settings)
    worker = make_worker(settings, db, notifier)
    if args.once:
        _say_if_history_is_unreadable(notifier)
        done = run_due(
            db,
            system_clock,
            worker.notifier,
            worker_id=worker.worker_id,
            handoffs=worker.handoffs,
            watch=worker.watch,
            oncall_group=worker.oncall_group,
        )
        print(f"{done} done")
        return 0

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    probes = ProbeServer(probes_for(settings, db), port=port) if port is not None else None
    if probes is not None:
        try:
            probes.start()
        except OSError as error:
            raise CliError(f"cannot listen on port {port} for probes ({error.strerror})") from None
    _say_if_history_is_unreadable(notifier)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        worker.run()
    finally:
        if probes is not None:
            probes.stop()
    return 0


def _say_if_history_is_unreadable(notifier: SlackNotifier) -> None:
    """Say at start, once, when the token lacks the history scopes (as `chatops serve` does):
    a send in doubt is then sent again without looking. Slack unreachable: found at a lookup."""
    scopes = notifier.granted_scopes()
    if scopes is None:
        return
    if missing := missing_history_scopes({"x-oauth-scopes": scopes}):
        print(history_scopes_warning(missing), file=sys.stderr, flush=True)
        notifier.history_known_unavailable()
