"""Case ids `TS-YYYY-NNNN`: a per-team, per-year counter bumped in the opening transaction.

The counter row is created if missing (ignoring a concurrent creator), then incremented with a
single UPDATE … RETURNING. On PostgreSQL the UPDATE's row lock queues concurrent openers and each
re-reads the committed value; on SQLite BEGIN IMMEDIATE already serialises writers. Either way
two cases never share a number, and a rolled-back opening leaves no hole it has to explain.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from chatops.cases.models import CaseCounter

KEY_PATTERN = re.compile(r"^TS-(\d{4})-(\d+)$", re.IGNORECASE)


def format_key(year: int, number: int) -> str:
    return f"TS-{year}-{number:04d}"


def normalise_key(text: str) -> str | None:
    """`ts-2027-42` → `TS-2027-0042`; None when `text` is not a case id."""
    match = KEY_PATTERN.match(text.strip())
    if not match:
        return None
    return format_key(int(match.group(1)), int(match.group(2)))


def next_case_key(session: Session, *, team_id: int, at: datetime) -> str:
    """The next id of `team_id` in the UTC year of `at`, allocated in the caller's transaction."""
    year = at.astimezone(UTC).year
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(CaseCounter)
        .values(team_id=team_id, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["team_id", "year"])
    )
    number = session.execute(
        update(CaseCounter)
        .where(col(CaseCounter.team_id) == team_id, col(CaseCounter.year) == year)
        .values(last=col(CaseCounter.last) + 1)
        .returning(col(CaseCounter.last))
    ).scalar_one()
    return format_key(year, number)


def peek_next_key(session: Session, *, team_id: int, at: datetime) -> str:
    """The id the next case opened at `at` would get, allocating nothing (for the demo tour)."""
    year = at.astimezone(UTC).year
    counter = session.get(CaseCounter, (team_id, year))
    return format_key(year, (counter.last if counter is not None else 0) + 1)
