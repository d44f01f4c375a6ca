"""`chatops intake add NAME [--type T] | list | revoke NAME`: the tools that may raise cases.

Each integration gets one routing key for `POST /intake/v2/enqueue` (PagerDuty Events API v2 in
shape). The key is printed once, at creation, and stored only as its sha256: keep it in the
tool's secret store; a lost key is revoked and a new integration added.
"""

from __future__ import annotations

import argparse

from sqlmodel import Session

from chatops.casetypes import CaseType
from chatops.cli.common import CliError, Parser, Subcommands, open_database, usage_of
from chatops.clock import system_clock
from chatops.errors import Refused
from chatops.intake import keys
from chatops.settings import Settings
from rota.store import UnknownTeam, find_team

OPERATOR = "cli"


def add(sub: Subcommands) -> None:
    parser = sub.add_parser("intake", help="routing keys of tools that open cases (Events API)")
    actions = parser.add_subparsers(dest="intake_command", metavar="ACTION", parser_class=Parser)
    new = actions.add_parser("add", help="a new integration; prints its routing key once")
    new.add_argument("name", help="e.g. mail-gateway (lower-case letters, digits, . _ -)")
    new.add_argument(
        "--type",
        default=CaseType.other.value,
        choices=[t.value for t in CaseType],
        help="the type of the cases it opens (default: other)",
    )
    new.set_defaults(func=cmd_add)
    listing = actions.add_parser("list", help="the integrations, live and revoked")
    listing.set_defaults(func=cmd_list)
    revoke = actions.add_parser("revoke", help="its key stops working at once")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_revoke)
    parser.set_defaults(func=lambda _a, _s: usage_of(parser))


def _team_id(session: Session, settings: Settings) -> int:
    try:
        team = find_team(session, settings.team)
    except UnknownTeam as error:
        raise CliError(str(error)) from None
    assert team.id is not None
    return team.id


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    db = open_database(settings)
    try:
        with db.transaction() as session:
            created = keys.add(
                session,
                team_id=_team_id(session, settings),
                name=args.name,
                case_type=args.type,
                actor=OPERATOR,
                at=system_clock(),
            )
    except Refused as refused:
        raise CliError(refused.reason) from None
    print(f"integration {created.integration.name} opens {created.integration.case_type} cases")
    print(f"routing key (shown once, keep it secret): {created.key}")
    print("events: POST https://YOUR-HOST/intake/v2/enqueue (PagerDuty Events API v2)")
    return 0


def cmd_list(_args: argparse.Namespace, settings: Settings) -> int:
    db = open_database(settings)
    with db.transaction() as session:
        rows = keys.integrations(session, team_id=_team_id(session, settings))
        lines = [
            f"{r.name}\t{r.case_type}\tadded {r.created_at:%Y-%m-%d} by {r.created_by}\t"
            + (f"revoked {r.revoked_at:%Y-%m-%d} by {r.revoked_by}" if r.revoked_at else "live")
            for r in rows
        ]
    print("\n".join(lines) if lines else "no integrations; add one with `chatops intake add NAME`")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    db = open_database(settings)
    try:
        with db.transaction() as session:
            keys.revoke(
                session,
                team_id=_team_id(session, settings),
                name=args.name,
                actor=OPERATOR,
                at=system_clock(),
            )
    except Refused as refused:
        raise CliError(refused.reason) from None
    print(f"revoked {args.name}: its routing key no longer opens anything")
    return 0
