"""Routing keys: one per integration, shown once at creation, kept only as a sha256.

A key is 32 random characters (the length of a PagerDuty integration key, so tools that check
the shape accept it). Whoever holds it can open cases of its integration's type, so it is never
stored, logged or shown again; a lost key is revoked and a new integration made.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from chatops import audit
from chatops.blockkit import quote_input
from chatops.cases.lookup import parse_type
from chatops.errors import Refused
from chatops.intake.models import Integration

KEY_SHAPE = re.compile(r"^[A-Za-z0-9]{32}$")
NAME_SHAPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Created:
    integration: Integration
    key: str  # shown once


def _name(name: str) -> str:
    if not NAME_SHAPE.match(name):
        raise Refused(
            f"'{quote_input(name)}' is not an integration name: lower-case letters, digits, "
            ". _ - (at most 40), e.g. mail-gateway"
        )
    return name


def _find(session: Session, team_id: int, name: str) -> Integration | None:
    return session.exec(
        select(Integration).where(Integration.team_id == team_id, Integration.name == name)
    ).first()


def add(
    session: Session, *, team_id: int, name: str, case_type: str, actor: str, at: datetime
) -> Created:
    """A new integration and its key; a name is never reused, even once revoked."""
    kind = parse_type(case_type)
    if _find(session, team_id, _name(name)) is not None:
        raise Refused(f"an integration named {name} exists already (names are never reused)")
    key = "".join(secrets.choice(_ALPHABET) for _ in range(32))
    row = Integration(
        team_id=team_id,
        name=name,
        case_type=kind.value,
        key_hash=key_hash(key),
        created_at=at,
        created_by=actor,
    )
    session.add(row)
    audit.record(
        session,
        at=at,
        actor=actor,
        action="intake.add",
        subject=f"intake:{name}",
        team_id=team_id,
        detail={"type": kind.value},
    )
    session.flush()
    return Created(row, key)


def revoke(session: Session, *, team_id: int, name: str, actor: str, at: datetime) -> Integration:
    row = _find(session, team_id, name)
    if row is None:
        raise Refused(f"no integration is named '{quote_input(name)}'")
    if row.revoked_at is not None:
        raise Refused(f"{name} is revoked already")
    row.revoked_at, row.revoked_by = at, actor
    session.add(row)
    audit.record(
        session,
        at=at,
        actor=actor,
        action="intake.revoke",
        subject=f"intake:{name}",
        team_id=team_id,
    )
    return row


def integrations(session: Session, *, team_id: int) -> list[Integration]:
    query = (
        select(Integration).where(Integration.team_id == team_id).order_by(col(Integration.name))
    )
    return list(session.exec(query))


def live_by_key(session: Session, key: str) -> Integration | None:
    """The live integration holding `key`, locked for this event (None: unknown or revoked)."""
    if not KEY_SHAPE.match(key):
        return None
    return session.exec(
        select(Integration)
        .where(Integration.key_hash == key_hash(key), col(Integration.revoked_at).is_(None))
        .with_for_update()
    ).first()
