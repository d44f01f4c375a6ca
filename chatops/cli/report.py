"""`chatops report --from --to [--out DIR] [--json]`: the team report (cases by type and
severity, time to acknowledge and to resolve, on-call hours with local nights and weekends) as
text or JSON, and its charts as PNG files in DIR.

`chatops report referrals --from --to [--json]`: how many referrals, by basis, agency and
country, for transparency reports and audits.

Counts only, in both: never a case's text or a note."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from chatops.cases.referrals import ReferralCounts, count_referrals
from chatops.cli.common import CliError, Parser, Subcommands, in_range, open_database
from chatops.errors import Refused
from chatops.settings import Settings
from rota.store import UnknownTeam, find_team

TEAM_USAGE = "chatops report --from DATE --to DATE [--out DIR] [--json]"


def add(sub: Subcommands) -> None:
    """`chatops report --from DATE --to DATE [--out DIR] [--json]` (the team report) and
    `chatops report referrals --from DATE --to DATE [--json]`."""
    report = sub.add_parser(
        "report",
        help="the team report (cases, response times, on-call hours, charts); referral counts",
        usage=f"{TEAM_USAGE}\n       chatops report referrals --from DATE --to DATE [--json]",
    )
    report.add_argument("--from", dest="start", help="first day (YYYY-MM-DD) or ISO instant")
    report.add_argument("--to", dest="end", help="last day, included (YYYY-MM-DD) or ISO instant")
    report.add_argument("--out", type=Path, help="write the charts (PNG) and report.json here")
    report.add_argument("--json", action="store_true", help="print JSON")
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
    report.set_defaults(func=cmd_team)


def bound(text: str, what: str, *, end: bool) -> datetime:
    """A day (UTC; `--to` includes it) or an aware ISO instant."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None and len(text) == 10:
        start = in_range(datetime.combine(day, time(0), tzinfo=UTC), text, what)
        return start + timedelta(days=1) if end else start
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"{what}: {text!r} is neither a day (YYYY-MM-DD) nor an instant") from None
    if value.tzinfo is None:
        raise CliError(f"{what}: {text!r} has no UTC offset; add Z or +HH:MM")
    return in_range(value, text, what).astimezone(UTC)


def _z(instant: datetime) -> str:
    """An instant as the README writes them: UTC with a `Z`."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render(counts: ReferralCounts, start: datetime, end: datetime) -> str:
    lines = [f"Referrals from {_z(start)} to {_z(end)}: {counts.total}"]
    for title, table in (
        ("By basis", counts.by_basis),
        ("By agency kind", counts.by_kind),
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
        try:
            team = find_team(session, settings.team)
        except UnknownTeam as error:
            raise CliError(str(error)) from None
        counts = count_referrals(session, start=start, end=end, team_id=team.id)
    if args.json:
        print(json.dumps({"from": _z(start), "to": _z(end), **asdict(counts)}))
    else:
        print(render(counts, start, end))
    return 0


def _team_window(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """The window of the team report, or one line with the usage (nothing is read)."""
    if not args.start or not args.end:
        raise CliError(f"--from and --to are required (usage: {TEAM_USAGE})")
    try:
        start, end = bound(args.start, "--from", end=False), bound(args.end, "--to", end=True)
        from chatops.reports.figures import check_window

        check_window(start, end)
    except CliError as error:
        raise CliError(f"{error} (usage: {TEAM_USAGE})") from None
    except Refused as refused:
        raise CliError(f"--from/--to: {refused.reason} (usage: {TEAM_USAGE})") from None
    return start, end


def _out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise CliError(f"--out: {str(out)!r} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f"--out: cannot create {str(out)!r}: {error.strerror or error}") from None
    return out


def cmd_team(args: argparse.Namespace, settings: Settings) -> int:
    """The team report; the operator sees every section (exposure hours included, once the
    exposure budget computes them)."""
    start, end = _team_window(args)
    out = _out_dir(args.out) if args.out is not None else None
    from chatops.reports import render
    from chatops.reports.figures import team_report

    db = open_database(settings)
    with db.transaction() as session:
        try:
            team = find_team(session, settings.team)
        except UnknownTeam as error:
            raise CliError(str(error)) from None
        assert team.id is not None
        report = team_report(session, team_id=team.id, start=start, end=end, now=datetime.now(UTC))
    data = render.as_dict(report, exposure=True)
    written: list[Path] = []
    if out is not None:
        from chatops.reports.charts import report_charts  # matplotlib loads in a second

        try:
            for chart in report_charts(report, exposure=True):
                path = out / chart.filename
                path.write_bytes(chart.data)
                written.append(path)
            path = out / "report.json"
            path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            written.append(path)
        except OSError as error:
            raise CliError(
                f"--out: cannot write in {str(out)!r}: {error.strerror or error}"
            ) from None
    if args.json:
        print(json.dumps(data))
    else:
        print(render.as_text(report, exposure=True))
        for path in written:
            print(f"wrote {path}")
    return 0
