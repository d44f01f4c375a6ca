"""`chatops cases purge [--apply]`: delete resolved cases whose retention has passed.

A dry run unless `--apply`; either way it lists case ids only (never their contents), and the
cases kept past their retention with the reason (a legal hold).
"""

from __future__ import annotations

import argparse

from chatops.cases.retention import Retention, plan, purge_case
from chatops.cli.common import Parser, Subcommands, open_database, parse_instant, usage_of
from chatops.clock import system_clock
from chatops.settings import Settings


def add(sub: Subcommands) -> None:
    parser = sub.add_parser("cases", help="case retention")
    actions = parser.add_subparsers(dest="cases_command", metavar="ACTION", parser_class=Parser)
    purge = actions.add_parser(
        "purge", help="list (or with --apply delete) resolved cases past their retention"
    )
    purge.add_argument("--apply", action="store_true", help="delete them (default: dry run)")
    purge.add_argument("--now", metavar="ISO", help="judge retention as of this instant")
    purge.set_defaults(func=cmd_purge)
    parser.set_defaults(func=lambda _a, _s: usage_of(parser))


def retention_of(settings: Settings) -> Retention:
    return Retention(settings.retention_days, settings.retention_by_type)


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    now = parse_instant(args.now, "--now") if args.now else system_clock()
    db = open_database(settings)
    with db.transaction() as session:
        found = plan(session, now=now, retention=retention_of(settings))
    for case, reason in found.kept:
        print(f"kept {case.key} (team {case.team_id}): {reason}")
    if not args.apply:
        for case in found.due:
            print(f"would purge {case.key} (team {case.team_id})")
        print(f"{len(found.due)} cases would be purged; run with --apply to purge them")
        return 0
    purged = 0
    for case in found.due:
        with db.transaction() as session:  # one case and its audit event per transaction
            done = purge_case(session, case=case, now=now)
        if done:
            purged += 1
            print(f"purged {case.key} (team {case.team_id})")
        else:
            print(f"kept {case.key} (team {case.team_id}): changed since listed")
    print(f"{purged} cases purged")
    return 0
