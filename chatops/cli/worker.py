"""`chatops worker`: the timer worker on its own, for deployments that scale it apart from
`chatops serve` (which runs one in-process unless told not to)."""

from __future__ import annotations

import argparse
import signal
from types import FrameType

from chatops.cli.common import CliError, Subcommands, open_database
from chatops.clock import system_clock
from chatops.settings import Settings
from chatops.worker import make_worker, run_due, slack_notifier


def add(sub: Subcommands) -> None:
    """`chatops worker [--once]`."""
    parser = sub.add_parser("worker", help="fire escalation timers and deliver pages")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if settings.slack_bot_token is None:
        raise CliError("SLACK_BOT_TOKEN must be set for the worker to send pages")
    db = open_database(settings)
    worker = make_worker(settings, db, slack_notifier(settings))
    if args.once:
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

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()
    return 0
