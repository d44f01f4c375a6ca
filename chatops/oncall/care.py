"""The rota's care warnings as the app shows them: fatigue rules plus shifts held while away.

`rota check` (chat and CLI), the edit previews and the daily coverage watch all ask here, so
they warn alike. Warnings
never block anything: coverage gaps do that; these tell a manager what the rota costs people.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from chatops.db import Database
from chatops.oncall.away import aways_between
from rota.fatigue import RotaWarning, away_warnings, fatigue_warnings
from rota.resolve import CompiledRota, compile_rota
from rota.spec import RotaSpec


def care_warnings(
    db: Database, team_id: int, rota: RotaSpec | CompiledRota, start: datetime, end: datetime
) -> list[RotaWarning]:
    """Shifts inside someone's away time (most urgent: someone must take them), then the
    fatigue warnings, over [start, end)."""
    with db.transaction() as session:
        return care_warnings_in(session, team_id, rota, start, end)


def care_warnings_in(
    session: Session,
    team_id: int,
    rota: RotaSpec | CompiledRota,
    start: datetime,
    end: datetime,
) -> list[RotaWarning]:
    """`care_warnings` inside a transaction already open (the coverage watch's)."""
    compiled = rota if isinstance(rota, CompiledRota) else compile_rota(rota)
    aways = aways_between(session, team_id, start, end)
    return [
        *away_warnings(compiled, aways, start, end),
        *fatigue_warnings(compiled, start, end),
    ]


def _key(w: RotaWarning) -> tuple[object, ...]:
    return (w.rule, w.member, w.spans)


def edit_warnings(
    db: Database, team_id: int, old: RotaSpec, new: RotaSpec, start: datetime, end: datetime
) -> list[RotaWarning]:
    """What a preview warns about: every away clash in the new rota, and the fatigue
    warnings the edit brings (ones the rota already had are `rota check`'s to show)."""
    before = {_key(w) for w in fatigue_warnings(old, start, end)}
    after = care_warnings(db, team_id, new, start, end)
    return [w for w in after if w.rule == "away" or _key(w) not in before]
