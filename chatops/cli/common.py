"""What every `chatops` subcommand shares: the one-line operator error, the parser class, and
opening the database at the current schema.

Operator mistakes (a bad option, a wrong setting, an unreachable database) end with one line on
standard error and exit code 2: never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import NoReturn

from chatops.db import Database, check_reachable, describe
from chatops.settings import Settings

EXIT_USAGE = 2


class CliError(Exception):
    """Ends the program with one line and exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


Subcommands = argparse._SubParsersAction


def usage_of(parser: argparse.ArgumentParser) -> int:
    """A command group typed without its action: show its help, exit 2."""
    parser.print_help(sys.stderr)
    return EXIT_USAGE


#: The instants an operator may name: a rota, a case or a report outside them is a typo, and
#: the calendar arithmetic past them (a year 9999 plus a day) cannot be done.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def in_range(value: datetime, text: str, what: str) -> datetime:
    """`value` if between EARLIEST and LATEST, else one line (`CliError`)."""
    if not EARLIEST <= value <= LATEST:
        raise CliError(f"{what}: {text!r} is outside {EARLIEST:%Y} to {LATEST:%Y}")
    return value


def parse_instant(text: str, what: str = "time") -> datetime:
    """An ISO 8601 instant with an offset or Z; a naive one is refused, not guessed."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"{what}: {text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise CliError(f"{what}: {text!r} has no UTC offset; add Z or +HH:MM")
    return in_range(value, text, what)


def open_database(settings: Settings, *, require_current: bool = True) -> Database:
    """The database, reachable and (unless upgrading) at the latest schema."""
    from chatops.schema.migrate import is_current

    db = Database.from_url(settings.database_url)
    check_reachable(db.engine)
    if require_current and not is_current(db.engine):
        raise CliError(
            f"the database at {describe(settings.database_url)} is not at the latest schema; "
            "run `chatops db upgrade`"
        )
    return db
