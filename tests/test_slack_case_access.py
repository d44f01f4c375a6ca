"""Need-to-know over real signed HTTP: the Acknowledge button of a restricted case (issue #11)."""

from __future__ import annotations

from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.cases.models import Case
from chatops.db import Database
from chatops.escalation.messages import ACK_ACTION
from chatops.escalation.models import PageKind
from chatops.outbox.models import OutboxMessage
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, serve

SECRET = "Material reported on Commons"


def test_acknowledge_pressed_by_a_member_never_paged_is_refused(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    with serve(sqlite_db, fake_slack) as served:
        served.command(f"case open child-safety sev1 {SECRET}", user=AMIRA)
        assert served.answer()["text"].startswith(":white_check_mark: Opened *TS-2027-0001")
        with sqlite_db.transaction() as session:
            paged = set(
                session.exec(
                    select(OutboxMessage.recipient).where(OutboxMessage.kind == PageKind.dm.value)
                )
            )
            outsider = next(
                m
                for m in ("U01EPETROV", "U01SMARTIN", "U01MEILIN0", "U01PRAMAN0", "U01OCHEN00")
                if m not in paged
            )
        posts = len(fake_slack.calls_to("chat.postMessage"))

        assert served.press(ACK_ACTION, "TS-2027-0001", user=outsider, rid="a1").status == 200

        answer = served.answer("a1")
        assert answer["text"] == (
            ":warning: TS-2027-0001 is restricted: you have not been given access; "
            "ask the on-call responder or a manager"
        )
        assert answer["response_type"] == "ephemeral"
        with sqlite_db.transaction() as session:
            case = session.exec(select(Case)).one()
            assert (case.status, case.assignee, case.acknowledged_by) == ("open", None, None)
            refusals = session.exec(
                select(AuditEvent).where(col(AuditEvent.action) == "case.refused")
            ).all()
            assert [(e.actor, e.subject) for e in refusals] == [(outsider, "TS-2027-0001")]
        served.command("case show TS-2027-0001", user=outsider, rid="s1")
        assert SECRET not in str(served.answer("s1"))
        assert len(fake_slack.calls_to("chat.postMessage")) == posts  # nothing announced
