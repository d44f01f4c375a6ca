"""`chatops report referrals --from --to [--json]`: how many referrals, by basis, agency and
country, for transparency reports and audits. Counts only: never a case's text or a note."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta

from chatops.cases.referrals import ReferralCounts, count_referrals
from chatops.cli.common import CliError, Parser, Subcommands, open_database, usage_of
from chatops.settings import Settings


def add(sub: Subcommands) -> None:
    """`chatops report referrals --from DATE --to DATE [--json]`."""
    report = sub.add_parser("report", help="counts for transparency reports")
    report_sub = report.add_subparsers(dest="report_command", metavar="REPORT", parser_class=Parser)
    referrals = report_sub.add_parser(
        "referrals", help="referrals to agencies by basis, agency and country"
    )
    referrals.add_argument(
        "--from", dest="start", required=True, help="first day (YYYY-MM-DD) or ISO instant"
    )
    referrals.add_argument(
        "--to", dest="end", required=True, help="last day, included (YYYY-MM-DD) or ISO instant"
    )
    referrals.add_argument("--json", action="store_true", help="print JSON")
    referrals.set_defaults(func=cmd_referrals)
    report.set_defaults(func=lambda _a, _s: usage_of(report))


def bound(text: str, what: str, *, end: bool) -> datetime:
    """A day (UTC; `--to` includes it) or an aware ISO instant."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None and len(text) == 10:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"{what}: {text!r} is neither a day (YYYY-MM-DD) nor an instant") from None
    if value.tzinfo is None:
        raise CliError(f"{what}: {text!r} has no UTC offset; add Z or +HH:MM")
    return value.astimezone(UTC)


def render(counts: ReferralCounts, start: datetime, end: datetime) -> str:
    lines = [f"Referrals from {start.isoformat()} to {end.isoformat()}: {counts.total}"]
    for title, table in (
        ("By basis", counts.by_basis),
        ("By agency", counts.by_agency),
        ("By country", counts.by_country),
    ):
        lines.append(f"{title}:")
        lines.extend(f"  {name}: {n}" for name, n in table.items())
    return "\n".join(lines)


def cmd_referrals(args: argparse.Namespace, settings: Settings) -> int:
    start, end = bound(args.start, "--from", end=False), bound(args.end, "--to", end=True)
    if end <= start:
        raise CliError("--to is before --from")
    db = open_database(settings)
    with db.transaction() as session:
        counts = count_referrals(session, start=start, end=end)
    if args.json:
        print(json.dumps({"from": start.isoformat(), "to": end.isoformat(), **asdict(counts)}))
    else:
        print(render(counts, start, end))
    return 0
