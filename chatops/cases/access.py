"""Need-to-know: who may read and act on a restricted case — one rule for every path.

The law asks that threats to life and child-safety material be seen by as few people as
possible, so a restricted case's summary, details and notes are for:

* its reporter;
* its assignee (every path that assigns needs access itself, so this cannot be self-granted);
* whoever was paged for it by its policy, or directly by someone who had access (a page row
  says who was paged, by whom, and whether it gives access);
* the members of the reviewer group named after its type (rota file ``groups:``);
* admins.

Everyone else is refused in one line that changes nothing, and the refusal is audited (ids
only, never the case's text). Verbs, buttons, forms, App Home and the console all come through
the service functions, which ask here.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from chatops import audit
from chatops.cases.models import Case
from chatops.errors import Refused
from chatops.escalation.models import PageKind
from chatops.escalation.pages import IS_PAGE
from chatops.outbox.models import OutboxMessage
from chatops.team import Actor
from rota.models import Member, ReviewerGroupMember

REFUSAL = (
    "{key} is restricted: you have not been given access; ask the on-call responder or a manager"
)


def can_see(session: Session, *, case: Case, actor: Actor) -> bool:
    """Whether `actor` may read (and so act on) `case`; unrestricted cases are the team's."""
    if not case.restricted or actor.is_admin:
        return True
    if actor.slack_id in {case.reporter, case.assignee}:
        return True
    return _paged_with_access(session, case, actor) or in_reviewer_group(
        session, team_id=case.team_id, group=case.type, slack_id=actor.slack_id
    )


def _paged_with_access(session: Session, case: Case, actor: Actor) -> bool:
    found = session.exec(
        select(OutboxMessage.id).where(
            IS_PAGE,
            OutboxMessage.case_id == case.id,
            OutboxMessage.kind == PageKind.dm.value,
            OutboxMessage.recipient == actor.slack_id,
            OutboxMessage.grants_access == True,  # noqa: E712 (SQL, not Python)
        )
    ).first()
    return found is not None


def in_reviewer_group(session: Session, *, team_id: int, group: str, slack_id: str) -> bool:
    """Whether the member is in the team's reviewer group `group` (named after a case type)."""
    found = session.exec(
        select(ReviewerGroupMember.id)
        .join(Member, Member.id == ReviewerGroupMember.member_id)  # type: ignore[arg-type]
        .where(
            ReviewerGroupMember.team_id == team_id,
            ReviewerGroupMember.name == group,
            Member.slack_id == slack_id,
        )
    ).first()
    return found is not None


def require_access(
    session: Session, *, case: Case, actor: Actor, at: datetime, action: str
) -> None:
    """Refuse `action` on a restricted case `actor` was not given; the refusal is audited.

    The audit event survives the refusal's rollback (`Refused.keep`), so the refused attempt is
    on record while nothing else changes.
    """
    if can_see(session, case=case, actor=actor):
        return
    key, team_id = case.key, case.team_id

    def keep(kept: Session) -> None:
        audit.record(
            kept,
            at=at,
            actor=actor.slack_id,
            action="case.refused",
            subject=key,
            team_id=team_id,
            detail={"attempted": action},
        )

    raise Refused(REFUSAL.format(key=key), keep=keep)


def record_view(session: Session, *, case: Case, actor: Actor, at: datetime) -> bool:
    """Audit a look at a restricted case, allowed or not; True when its details may be shown."""
    visible = can_see(session, case=case, actor=actor)
    if case.restricted:
        audit.record(
            session,
            at=at,
            actor=actor.slack_id,
            action="case.view_restricted" if visible else "case.view_refused",
            subject=case.key,
            team_id=case.team_id,
        )
    return visible
