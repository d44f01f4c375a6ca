"""Compiled rotas kept per process and reused while the team's `rota_version` is unchanged.

Loading a rota is a dozen queries and a full validation; answering `/ts who` from a cached
compiled rota costs one primary-key read. Every rota save bumps `Team.rota_version` in the same
transaction, so a replica sees another replica's edit on its next question.
"""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlmodel import Session

from rota.models import Team
from rota.resolve import CompiledRota, compile_rota
from rota.store import UnknownTeam, load_rota

_caches: WeakKeyDictionary[Engine, dict[int, tuple[int, CompiledRota]]] = WeakKeyDictionary()
_lock = threading.Lock()


def compiled_rota(session: Session, team_id: int) -> CompiledRota:
    """The team's rota, compiled, as of this session's view of the database.

    Cached per engine (one per process and database), so replicas and tests never share one.
    """
    team = session.get(Team, team_id)
    if team is None:
        raise UnknownTeam(f"team {team_id} is no longer in the database")
    engine = session.get_bind().engine
    with _lock:
        entries = _caches.setdefault(engine, {})
        hit = entries.get(team_id)
    if hit is not None and hit[0] == team.rota_version:
        return hit[1]
    compiled = compile_rota(load_rota(session, team))
    with _lock:
        entries[team_id] = (team.rota_version, compiled)
    return compiled


#: Compiled rotas read once per worker pass, by team id (loading one costs milliseconds).
Rotas = dict[int, CompiledRota]


def team_rota(session: Session, team: Team, rotas: Rotas | None = None) -> CompiledRota:
    """The team's rota, from `rotas` when this pass already read it."""
    if rotas is not None and team.id in rotas:
        return rotas[team.id]
    assert team.id is not None
    rota = compiled_rota(session, team.id)  # the process-wide cache, keyed on rota_version
    if rotas is not None:
        rotas[team.id] = rota
    return rota
