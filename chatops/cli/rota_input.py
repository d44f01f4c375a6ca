"""What `chatops rota …` reads: a rota from a FILE or the database, a window, a member.

Shared by the rota actions; a mistake in any of them is a `CliError` naming the option.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from chatops.blockkit import unescape
from chatops.cli.common import CliError, open_database, parse_instant
from chatops.clock import system_clock
from chatops.settings import Settings
from chatops.teamfile import load_rota_file
from commands.names import NameNotFound, Person, UnknownName, match
from rota.spec import RotaSpec
from rota.store import UnknownTeam, find_team, load_rota
from rota.yamlio import RotaError


class RotaInputError(CliError):
    """Invalid rota input: printed as its path-named lines, exit 2."""


def file_and_window(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    p.add_argument("file", nargs="?", type=Path, help="a rota YAML file (default: the database)")
    p.add_argument("--from", dest="start", help="ISO instant (default: now)")
    p.add_argument("--to", dest="end", help="ISO instant (default: from + the check horizon)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable output")


@contextmanager
def rota_errors() -> Iterator[None]:
    try:
        yield
    except RotaError as error:
        raise RotaInputError("invalid rota:\n  " + "\n  ".join(error.messages)) from None


def read_rota(args: argparse.Namespace, settings: Settings) -> RotaSpec:
    """The rota from FILE when given, else the team's rota in the database."""
    if getattr(args, "file", None) is not None:
        with rota_errors():
            return load_rota_file(Path(args.file)).spec
    db = open_database(settings)
    with db.transaction() as session:
        try:
            return load_rota(session, find_team(session, settings.team))
        except UnknownTeam as error:
            raise CliError(str(error)) from None


def window(args: argparse.Namespace, settings: Settings) -> tuple[datetime, datetime]:
    start = parse_instant(args.start, "--from") if args.start else system_clock()
    end = (
        parse_instant(args.end, "--to")
        if args.end
        else start + timedelta(days=settings.check_horizon_days)
    )
    if end <= start:
        raise CliError("--to must be after --from")
    return start, end


def member_id(spec: RotaSpec, who: str | None) -> str | None:
    """`--member` read as `/ts` reads names: a Slack id, `Amira`, `sofia`, `"Sofía Martínez"`."""
    if who is None:
        return None
    people = [Person(m.id, m.name) for m in spec.members]
    try:
        return match(who, people, team=spec.team.name).slack_id
    except UnknownName as error:
        raise CliError(
            f"--member: {who!r} is not a member of {spec.team.name}{error.hint}"
        ) from None
    except NameNotFound as error:
        raise CliError(
            f"--member: no single member matches {who!r}{unescape(error.hint)}"
        ) from None


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))
