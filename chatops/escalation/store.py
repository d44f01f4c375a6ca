"""A team's escalation policies in the database (validated PolicySpecs stored as JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from chatops import audit
from chatops.escalation.models import EscalationPolicy
from chatops.escalation.policy import DEFAULT_POLICIES, PolicySpec, choose_policy


def save_policies(
    session: Session,
    *,
    team_id: int,
    policies: Sequence[PolicySpec],
    actor: str,
    at: datetime,
) -> None:
    """Replace the team's policies (validate them first with `parse_policies`); audited.

    Open cases keep the policy they were opened with; new cases use these.
    """
    session.execute(delete(EscalationPolicy).where(col(EscalationPolicy.team_id) == team_id))
    for position, policy in enumerate(policies):
        session.add(
            EscalationPolicy(
                team_id=team_id,
                name=policy.name,
                position=position,
                spec=policy.model_dump_json(),
            )
        )
    audit.record(
        session,
        at=at,
        actor=actor,
        action="policy.replace",
        subject=f"team:{team_id}",
        team_id=team_id,
        detail={"policies": [p.name for p in policies]},
    )


def load_policies(session: Session, *, team_id: int) -> list[PolicySpec]:
    """The team's own policies, in order (empty when it defined none)."""
    rows = session.exec(
        select(EscalationPolicy)
        .where(EscalationPolicy.team_id == team_id)
        .order_by(col(EscalationPolicy.position))
    )
    return [PolicySpec.model_validate_json(row.spec) for row in rows]


def effective_policies(session: Session, *, team_id: int) -> tuple[list[PolicySpec], bool]:
    """What applies to the team's new cases, and whether it is the built-in default."""
    own = load_policies(session, team_id=team_id)
    return (own, False) if own else (list(DEFAULT_POLICIES), True)


def policy_for_case(session: Session, *, team_id: int, case_type: str, severity: str) -> PolicySpec:
    return choose_policy(load_policies(session, team_id=team_id), case_type, severity)
