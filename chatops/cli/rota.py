"""`chatops rota …`: import, export, check, who, shifts, load, plot and ical.

With a FILE the command works on that file alone (no database); without, on the team in the
database. The JSON shapes are a contract that others script against: keep them stable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from chatops.blockkit import unescape
from chatops.cli import rota_input
from chatops.cli.common import (
    CliError,
    Subcommands,
    open_database,
    parse_instant,
    usage_of,
)
from chatops.clock import system_clock
from chatops.oncall.care import care_warnings
from chatops.settings import Settings
from chatops.teamfile import export_rota_file, import_rota_file, load_rota_file
from rota.coverage import coverage_gaps, describe_gap
from rota.doubles import describe_double, double_holdings
from rota.fatigue import RotaWarning, fatigue_warnings
from rota.ical import shifts_calendar
from rota.load import load
from rota.resolve import CompiledRota, compile_rota
from rota.store import UnknownTeam, find_team
from rota.timefmt import fmt_utc
from rota.wallclock import zone

EXIT_GAPS = 1
Command = Callable[[argparse.Namespace, Settings], int]


def add(sub: Subcommands) -> None:
    """`chatops rota …`: its actions, each with its own options."""
    rota = sub.add_parser(
        "rota", help="the rota: import, export, check, who, shifts, load, plot, ical"
    )
    verbs = rota.add_subparsers(dest="rota_command", metavar="ACTION", parser_class=type(rota))
    rota.set_defaults(func=lambda _a, _s: usage_of(rota))

    p = verbs.add_parser("import", help="replace the team's rota with a YAML file")
    p.add_argument("file", type=Path)
    p.add_argument("--force", action="store_true", help="accept coverage gaps (audited)")
    p.set_defaults(func=cmd_import)

    p = verbs.add_parser("export", help="print the team's rota as YAML")
    p.add_argument("-o", "--output", type=Path, help="write to this file instead")
    p.set_defaults(func=cmd_export)

    p = verbs.add_parser("check", help="prove coverage: exit 0 covered, 1 gaps, 2 bad input")
    rota_input.file_and_window(p)
    p.add_argument("--min", type=int, default=None, help="members required (default: team's)")
    p.add_argument("--layer", help="check one layer only (e.g. primary)")
    p.set_defaults(func=cmd_check)

    p = verbs.add_parser("who", help="who is on call at an instant")
    p.add_argument("file", nargs="?", type=Path)
    p.add_argument("--at", help="ISO instant with offset or Z (default: now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_who)

    p = verbs.add_parser("shifts", help="the concrete shifts in a window")
    rota_input.file_and_window(p)
    p.add_argument("--member", help="one member, by Slack id or name")
    p.set_defaults(func=cmd_shifts)

    p = verbs.add_parser("load", help="hours on call per member, with local night and weekend")
    rota_input.file_and_window(p)
    p.set_defaults(func=cmd_load)

    p = verbs.add_parser("plot", help="draw every rotation's shifts on a timeline (PNG)")
    p.add_argument("file", nargs="?", type=Path, help="a rota YAML file (default: the database)")
    p.add_argument("--from", dest="start", help="ISO instant (default: now)")
    p.add_argument("--to", dest="end", help="ISO instant (default: from + the check horizon)")
    p.add_argument("--out", required=True, type=Path, help="the PNG file to write")
    p.add_argument("--tz", help="IANA zone of the hour ticks (default: the team's)")
    p.set_defaults(func=cmd_plot)

    p = verbs.add_parser("ical", help="an iCalendar (RFC 5545) feed of shifts")
    rota_input.file_and_window(p, json_flag=False)
    p.add_argument("--member", help="one member, by Slack id or name")
    p.set_defaults(func=cmd_ical)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    with rota_input.rota_errors():
        rota_file = load_rota_file(Path(args.file))
    spec = rota_file.spec
    now = system_clock()
    gaps = coverage_gaps(spec, now, now + timedelta(days=settings.check_horizon_days))
    if gaps and not args.force:
        shown = "\n".join(describe_gap(spec, g) for g in gaps[:5])
        raise CliError(
            f"refused: the rota leaves {len(gaps)} coverage gap(s) in the next "
            f"{settings.check_horizon_days} days (use --force to import anyway):\n{shown}"
        )
    db = open_database(settings)
    with db.transaction() as session:
        import_rota_file(
            session,
            rota_file,
            actor="cli",
            at=now,
            detail={"file": str(args.file), "forced": bool(gaps), "gaps": len(gaps)},
        )
    policies = "" if rota_file.policies is None else f", {len(rota_file.policies)} policies"
    print(
        f"imported {spec.team.name}: {len(spec.members)} members, {len(spec.rotations)} "
        f"rotations, {len(spec.overrides)} overrides{policies}"
        + (f" ({len(gaps)} gap(s) accepted with --force)" if gaps else "")
    )
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    db = open_database(settings)
    with db.transaction() as session:
        try:
            text = export_rota_file(session, find_team(session, settings.team))
        except UnknownTeam as error:
            raise CliError(str(error)) from None
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as error:
            reason = error.strerror or str(error)
            raise CliError(f"--output: cannot write {str(args.output)!r}: {reason}") from None
        print(f"exported {len(text.splitlines())} lines to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    spec = rota_input.read_rota(args, settings)
    start, end = rota_input.window(args, settings)
    if args.min is not None and args.min < 1:
        raise CliError("--min must be at least 1")
    if args.layer is not None and args.layer not in {r.layer for r in spec.rotations}:
        raise CliError(f"--layer: no rotation has layer {args.layer!r}")
    required = args.min if args.min is not None else spec.team.required
    compiled = compile_rota(spec)
    gaps = coverage_gaps(compiled, start, end, required=required, layer=args.layer)
    doubles = double_holdings(compiled, start, end)
    warnings = _warnings(args, settings, compiled, start, end)
    if args.json:
        report: dict[str, Any] = {
            "from": fmt_utc(start),
            "to": fmt_utc(end),
            "required": required,
            "gaps": [
                {"start": fmt_utc(g.start), "end": fmt_utc(g.end), "on_call": g.on_call}
                for g in gaps
            ],
            "warnings": [{**w.as_json(), "message": unescape(w.message)} for w in warnings],
        }
        if doubles:  # a warning, present only when there is one
            report["double_holdings"] = [
                {
                    "member": d.member,
                    "rotations": list(d.rotations),
                    "layers": list(d.layers),
                    "start": fmt_utc(d.start),
                    "end": fmt_utc(d.end),
                }
                for d in doubles
            ]
        rota_input.print_json(report)
        return EXIT_GAPS if gaps else 0
    if gaps:
        print(f"{len(gaps)} coverage gap(s) between {fmt_utc(start)} and {fmt_utc(end)}:")
        for gap in gaps:
            print(describe_gap(compiled, gap, required=required, layer=args.layer))
    else:
        print(f"covered: {required} or more on call from {fmt_utc(start)} to {fmt_utc(end)}")
    if doubles:
        print(
            f"warning: {len(doubles)} time(s) one person holds two layers at once "
            "(levels paging both reach the same person):"
        )
        for double in doubles:
            print(describe_double(compiled, double))
    if warnings:
        print(f"{len(warnings)} care warning(s) (not gaps):")
        for warning in warnings:
            print(unescape(warning.describe()))  # a reason is kept escaped for Slack
    return EXIT_GAPS if gaps else 0


def _warnings(
    args: argparse.Namespace,
    settings: Settings,
    compiled: CompiledRota,
    start: datetime,
    end: datetime,
) -> list[RotaWarning]:
    """Fatigue warnings; with the database's rota, shifts inside away periods too."""
    if getattr(args, "file", None) is not None:
        return fatigue_warnings(compiled, start, end)
    db = open_database(settings)
    with db.transaction() as session:
        team = find_team(session, settings.team)
        assert team.id is not None
        team_id = team.id
    return care_warnings(db, team_id, compiled, start, end)


def cmd_who(args: argparse.Namespace, settings: Settings) -> int:
    spec = rota_input.read_rota(args, settings)
    at = parse_instant(args.at, "--at") if args.at else system_clock()
    names = {m.id: m.name for m in spec.members}
    on_call = compile_rota(spec).on_call(at)
    rows = [
        {
            "member": s.member,
            "name": names.get(s.member, s.member),
            "rotation": s.rotation,
            "since": fmt_utc(s.start),
            "until": fmt_utc(s.end),
        }
        for s in on_call
    ]
    if args.json:
        rota_input.print_json({"at": fmt_utc(at), "on_call": rows})
    elif not rows:
        print(f"nobody is on call at {fmt_utc(at)}")
    else:
        print(f"on call at {fmt_utc(at)}:")
        for r in rows:
            print(
                f"  {r['name']} ({r['member']})  {r['rotation'] or 'team-wide override'}  "
                f"{r['since']} → {r['until']}"
            )
    return 0


def cmd_shifts(args: argparse.Namespace, settings: Settings) -> int:
    spec = rota_input.read_rota(args, settings)
    start, end = rota_input.window(args, settings)
    member = rota_input.member_id(spec, args.member)
    found = compile_rota(spec).shifts(start, end, member=member)
    if args.json:
        rota_input.print_json(
            {
                "shifts": [
                    {
                        "member": s.member,
                        "rotation": s.rotation,
                        "start": fmt_utc(s.start),
                        "end": fmt_utc(s.end),
                    }
                    for s in found
                ]
            }
        )
        return 0
    names = {m.id: m.name for m in spec.members}
    for s in found:
        tag = " [override]" if s.source == "override" else ""
        print(
            f"{fmt_utc(s.start)} → {fmt_utc(s.end)}  {s.rotation or 'team-wide':<12} "
            f"{names.get(s.member, s.member)} ({s.member}){tag}"
        )
    if not found:
        print("no shifts in that window")
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    spec = rota_input.read_rota(args, settings)
    start, end = rota_input.window(args, settings)
    loads = load(spec, start, end)
    names = {m.id: m.name for m in spec.members}
    if args.json:
        rota_input.print_json(
            {
                "from": fmt_utc(start),
                "to": fmt_utc(end),
                "members": [
                    {
                        "member": m,
                        "name": names[m],
                        "hours": round(x.on_call_hours, 2),
                        "night_hours": round(x.night_hours, 2),
                        "weekend_hours": round(x.weekend_hours, 2),
                    }
                    for m, x in loads.items()
                ],
            }
        )
        return 0
    print(f"on-call load from {fmt_utc(start)} to {fmt_utc(end)} (night = 22:00–07:00 local)")
    print(f"  {'member':<24} {'hours':>8} {'night':>8} {'weekend':>8}")
    for member_id, x in loads.items():
        print(
            f"  {names[member_id]:<24} {x.on_call_hours:>8.1f} {x.night_hours:>8.1f} "
            f"{x.weekend_hours:>8.1f}"
        )
    return 0


def cmd_plot(args: argparse.Namespace, settings: Settings) -> int:
    start, end = rota_input.window(args, settings)
    from chatops.oncall import plot  # matplotlib loads in a second: only for this command

    if end - start > plot.MAX_WINDOW:
        raise CliError("--from/--to: the window may be a year at most")
    spec = rota_input.read_rota(args, settings)
    tz = args.tz or spec.team.tz
    try:
        zone(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(
            f"--tz: unknown time zone {tz!r} (use an IANA name like Europe/Berlin)"
        ) from None
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise CliError(f"--out: {str(out)!r} must end in .png")
    figure = plot.draw(compile_rota(spec), start, end, tz)
    try:
        plot.save(figure, out)
    except OSError as error:
        raise CliError(f"--out: cannot write {str(out)!r}: {error.strerror or error}") from None
    print(f"wrote {out} ({fmt_utc(start)} to {fmt_utc(end)}, ticks in {tz})")
    return 0


def cmd_ical(args: argparse.Namespace, settings: Settings) -> int:
    spec = rota_input.read_rota(args, settings)
    start, end = rota_input.window(args, settings)
    member = rota_input.member_id(spec, args.member)
    compiled: CompiledRota = compile_rota(spec)
    sys.stdout.write(
        shifts_calendar(spec, compiled.shifts(start, end, member=member), stamp=system_clock())
    )
    return 0
