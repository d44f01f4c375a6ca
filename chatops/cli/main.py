"""The `chatops` command line: run, serve, console, demo, db upgrade, worker, rota, audit
and cases.

Operator mistakes (a bad option, a wrong setting, an unreachable database) end with one line on
standard error and exit code 2: never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from chatops import __version__
from chatops.cli import audit as audit_cli
from chatops.cli import cases as cases_cli
from chatops.cli import intake as intake_cli
from chatops.cli import report as report_cli
from chatops.cli import rota as rota_cli
from chatops.cli import worker as worker_cli
from chatops.cli.common import (
    EXIT_USAGE,
    CliError,
    Parser,
    open_database,
    parse_instant,
    usage_of,
)
from chatops.clock import ManualClock, system_clock
from chatops.db import DatabaseError, describe
from chatops.logs import configure_logging
from chatops.settings import Settings, SettingsError, load_settings

log = logging.getLogger("chatops")

#: What a shell reports for a program ended by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="chatops", description="Trust & Safety on-call bot for Slack.")
    parser.add_argument("--version", action="version", version=f"chatops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser("run", help="Slack when tokens are set, otherwise the demo console")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="connect to Slack (Socket Mode or HTTP)")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default $PORT or 3000)")
    serve.add_argument("--no-worker", action="store_true", help="do not run the timer worker")
    serve.set_defaults(func=cmd_serve)

    console = sub.add_parser("console", help="a local REPL that runs the /ts commands")
    console.add_argument("--as", dest="as_member", metavar="NAME", help="act as this member")
    console.add_argument("--now", metavar="ISO", help="start the console clock at this instant")
    console.set_defaults(func=cmd_console)

    demo = sub.add_parser("demo", help="load the demo team into an empty database")
    demo.add_argument(
        "--replace", action="store_true", help="replace the demo team's rota if it is there"
    )
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=Parser)
    upgrade = db_sub.add_parser("upgrade", help="create or migrate the schema to the latest")
    upgrade.set_defaults(func=cmd_db_upgrade)
    db.set_defaults(func=lambda _a, _s: usage_of(db))

    report_cli.add(sub)
    rota_cli.add(sub)
    worker_cli.add(sub)
    audit_cli.add(sub)
    cases_cli.add(sub)
    intake_cli.add(sub)
    return parser


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from chatops.schema.migrate import upgrade

    db = open_database(settings, require_current=False)
    upgrade(db.engine)
    print(f"database at {describe(settings.database_url)} is up to date")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import inspect

    from chatops.demo import load_demo
    from chatops.errors import Refused
    from chatops.schema.migrate import upgrade

    db = open_database(settings, require_current=False)
    if not inspect(db.engine).get_table_names():  # a new database: made, not refused
        upgrade(db.engine)
    try:
        team = load_demo(open_database(settings), now=system_clock(), replace=args.replace)
    except Refused as refused:
        raise CliError(str(refused)) from None
    verb = "replaced in" if args.replace else "loaded into"
    print(f"demo team {team.name!r} {verb} {describe(settings.database_url)}")
    return 0


def cmd_console(args: argparse.Namespace, settings: Settings, *, tour: bool = False) -> int:
    from chatops.blockkit import unescape
    from chatops.cases.ids import peek_next_key
    from chatops.console import Console, find_member
    from chatops.demo import TOUR
    from chatops.team import actor_from_member, default_console_member
    from commands.context import Context
    from commands.names import NameNotFound
    from rota.store import UnknownTeam, find_team

    db = open_database(settings)
    clock = ManualClock(parse_instant(args.now, "--now") if args.now else system_clock())
    with db.transaction() as session:
        try:
            team = find_team(session, settings.team)
        except UnknownTeam as error:
            raise CliError(f"{error} (try `chatops demo`)") from None
        try:
            member = (
                find_member(session, team, args.as_member)
                if args.as_member
                else default_console_member(session, team)
            )
        except NameNotFound as error:
            hint = unescape(error.hint)
            raise CliError(
                f"--as: no single member of {team.name} matches {args.as_member!r}{hint}"
            ) from None
        if member is None:
            raise CliError(f"--as: no single member of {team.name} matches {args.as_member!r}")
        from chatops.team import team_members

        names = {m.slack_id: m.name for m in team_members(session, team)}
    assert team.id is not None
    ctx = Context(
        db=db,
        team_id=team.id,
        team_name=team.name,
        actor=actor_from_member(member),
        clock=clock,
        admin_contact=settings.admin_contact,
        channel=team.channel,
        horizon_days=settings.check_horizon_days,
        page_limit_per_minute=settings.page_limit_per_minute,
        public_url=settings.public_url,
        report_within=settings.duration(settings.report_within),
        preserve_for=timedelta(days=settings.report_preserve_days),
    )
    from chatops.outbox.notifier import ConsoleNotifier
    from chatops.worker import console_hook, handoff_settings, next_wakeup, watch_settings

    handoffs, watch = handoff_settings(settings), watch_settings(settings)
    console = Console(
        db=db,
        team=team,
        context=ctx,
        clock=clock,
        names=names,
        wakeup=lambda now: next_wakeup(db, now=now, settings=handoffs, watch=watch),
    )
    console.on_advance.append(
        console_hook(db, clock, ConsoleNotifier(), handoffs=handoffs, watch=watch)
    )
    if tour:
        with db.transaction() as session:
            assert team.id is not None
            case = peek_next_key(session, team_id=team.id, at=clock())
        console.print(
            TOUR.format(name=member.name, role=member.role, tz=member.tz, team=team.name, case=case)
        )
    return console.run(sys.stdin, interactive=sys.stdin.isatty())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from chatops.slack.serve import serve

    if not settings.slack_enabled:
        raise CliError(
            "SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP) "
            "must be set to serve Slack; `chatops console` needs neither"
        )
    from chatops.probes import probes_for
    from chatops.worker import run_worker_until

    db = open_database(settings)
    worker = settings.run_worker and not args.no_worker
    return serve(
        settings,
        db,
        port=args.port or settings.port,
        worker=worker,
        run_worker=run_worker_until(settings, db),
        probes=probes_for(settings, db),
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """What `make run` does: migrate, then Slack if configured, else the console, with the
    demo team loaded first only into a database that holds no team at all."""
    from sqlmodel import select

    from chatops.schema.migrate import upgrade
    from rota.models import Team

    db = open_database(settings, require_current=False)
    upgrade(db.engine)
    if settings.slack_enabled:
        args.port, args.no_worker = None, False
        return cmd_serve(args, settings)
    with db.transaction() as session:
        has_team = session.exec(select(Team.id)).first() is not None
    if not has_team:
        from chatops.demo import load_demo

        load_demo(db, now=system_clock())
    args.as_member, args.now = None, None
    return cmd_console(args, settings, tour=True)


def _log_level(args: argparse.Namespace, settings: Settings) -> str:
    """Servers log at the configured level; one-shot commands and the console stay quiet
    (warnings only) unless DEBUG is asked for, so their output is what the user reads."""
    server = args.command in {"serve", "worker"} or (
        args.command == "run" and settings.slack_enabled
    )
    if server or settings.log_level == "DEBUG":
        return settings.log_level
    return "WARNING" if settings.log_level == "INFO" else settings.log_level


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        settings = load_settings()
        configure_logging(_log_level(args, settings), settings.log_format.value)
        return int(args.func(args, settings))
    except (SettingsError, DatabaseError, CliError) as error:
        print(f"chatops: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`chatops rota shifts | head`): end quietly, as `cat` would.
        # Standard output is pointed at /dev/null so the interpreter's final flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
