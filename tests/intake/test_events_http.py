"""`POST /intake/v2/enqueue` over real HTTP: each answer, and the case it leaves (issue #14).

A tool speaking PagerDuty's Events API v2 triggers, re-triggers, acknowledges and resolves
through the running server; bad bodies and bad keys get their one answer and change nothing.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from chatops.audit import AuditEvent
from chatops.cases.models import Case, CaseEvent
from chatops.clock import ManualClock
from chatops.db import Database
from chatops.intake import events, keys
from chatops.intake.events import intake_server
from chatops.outbox.models import OutboxMessage
from chatops.slack import create_app
from chatops.slack.http import SlackHttpServer
from rota.store import save_rota
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import NOW, example_rota, settings_for


@dataclass
class Intake:
    url: str
    db: Database
    clock: ManualClock
    team_id: int

    def key(self, name: str, case_type: str = "threat-of-violence") -> str:
        with self.db.transaction() as session:
            created = keys.add(
                session, team_id=self.team_id, name=name, case_type=case_type, actor="t", at=NOW
            )
        return created.key

    def post(self, body: bytes | dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as failure:
            return failure.code, json.loads(failure.read())

    def cases(self) -> list[Case]:
        with self.db.transaction() as session:
            return list(session.exec(select(Case).order_by(col(Case.id))))

    def count(self, table: Any) -> int:
        with self.db.transaction() as session:
            return int(session.exec(select(func.count()).select_from(table)).one())

    def timeline(self, case: Case) -> list[tuple[str, str]]:
        with self.db.transaction() as session:
            rows = session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))
            )
            return [(e.kind, e.actor) for e in rows]


@pytest.fixture
def intake(db: Database, fake_slack: FakeSlack) -> Iterator[Intake]:
    with db.transaction() as session:
        team = save_rota(session, example_rota())
    assert team.id is not None
    clock = ManualClock(NOW)
    app = create_app(settings_for(fake_slack), db, clock=clock)
    handler = intake_server(db, clock, report_within=timedelta(hours=24))
    server = SlackHttpServer(app, host="127.0.0.1", port=0, intake=handler)
    server.start()
    try:
        yield Intake(f"http://127.0.0.1:{server.port}{events.PATH}", db, clock, team.id)
    finally:
        server.stop()


def trigger(key: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": "Mailbox: a user threatens to attack the meetup tonight",
            "source": "emergency-mailbox",
            "severity": "critical",
            "custom_details": {"from": "someone@example.org"},
        },
    }
    return {**body, **extra}


def test_trigger_repeat_acknowledge_resolve(intake: Intake) -> None:
    key = intake.key("mail-gateway")

    status, answer = intake.post(trigger(key, dedup_key="mail-1"))
    assert (status, answer) == (
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "mail-1"},
    )
    [case] = intake.cases()
    assert (case.type, case.severity, case.status) == ("threat-of-violence", "sev1", "open")
    assert case.reporter == "intake:mail-gateway"
    assert "emergency-mailbox" in case.details and "someone@example.org" in case.details
    pages = intake.count(OutboxMessage)
    assert pages > 0  # paged like any case

    # The same dedup_key again: the open case gets a timeline line, nobody is paged again.
    status, answer = intake.post(trigger(key, dedup_key="mail-1"))
    assert (status, answer["dedup_key"]) == (202, "mail-1")
    assert len(intake.cases()) == 1
    assert intake.count(OutboxMessage) == pages
    assert ("retriggered", "intake:mail-gateway") in intake.timeline(case)

    ack = {"routing_key": key, "event_action": "acknowledge", "dedup_key": "mail-1"}
    assert intake.post(ack)[0] == 202
    [case] = intake.cases()
    assert (case.status, case.acknowledged_by, case.assignee) == (
        "acknowledged",
        "intake:mail-gateway",
        None,
    )

    resolve = {"routing_key": key, "event_action": "resolve", "dedup_key": "mail-1"}
    assert intake.post(resolve) == (
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "mail-1"},
    )
    [case] = intake.cases()
    assert (case.status, case.resolved_by) == ("resolved", "intake:mail-gateway")
    with intake.db.transaction() as session:
        actions = [
            (e.action, e.actor)
            for e in session.exec(select(AuditEvent).where(AuditEvent.subject == case.key))
        ]
    assert ("case.open", "intake:mail-gateway") in actions
    assert ("case.acknowledge", "intake:mail-gateway") in actions
    assert ("case.resolve", "intake:mail-gateway") in actions

    # Once resolved, the same dedup_key opens a new case (a new alarm).
    assert intake.post(trigger(key, dedup_key="mail-1"))[0] == 202
    assert [c.status for c in intake.cases()] == ["resolved", "open"]


def test_a_repeat_at_a_higher_severity_raises_the_case_and_tells_its_holder(
    intake: Intake,
) -> None:
    key = intake.key("mail-gateway")
    low = trigger(key, dedup_key="mail-2")
    low["payload"] = {**low["payload"], "severity": "warning"}
    assert intake.post(low)[0] == 202
    [case] = intake.cases()
    assert case.severity == "sev3"
    with intake.db.transaction() as session:
        session.get(Case, case.id).assignee = "U01ANN"  # type: ignore[union-attr]
    queued = intake.count(OutboxMessage)

    assert intake.post(trigger(key, dedup_key="mail-2"))[0] == 202  # critical now

    [case] = intake.cases()
    assert case.severity == "sev1"
    assert ("edited", "intake:mail-gateway") in intake.timeline(case)
    with intake.db.transaction() as session:
        new = list(session.exec(select(OutboxMessage).where(col(OutboxMessage.id) > queued)))
    assert [(m.recipient, "sev1" in m.text, "meetup" in m.text) for m in new] == [
        ("U01ANN", True, False)  # the holder is told; the case's text stays out of the DM
    ]

    # A lower severity never lowers it, and tells nobody.
    assert intake.post(low)[0] == 202
    assert intake.cases()[0].severity == "sev1"
    assert intake.count(OutboxMessage) == queued + 1


def test_a_lone_surrogate_is_400_and_a_nul_is_dropped(intake: Intake) -> None:
    """JSON may spell text no database can store; a tool is told, or the NUL is left out."""
    key = intake.key("mail-gateway")
    body = json.dumps(trigger(key)).replace("Mailbox: a user", r"Mailbox: a \ud800 user")
    status, answer = intake.post(body.encode())
    assert status == 400 and "surrogate" in answer["errors"][0], answer
    assert intake.cases() == []

    body = json.dumps(trigger(key)).replace("Mailbox: a user", r"Mailbox: a \u0000 user")
    status, answer = intake.post(body.encode())
    assert status == 202, answer
    [case] = intake.cases()
    assert case.summary.startswith("Mailbox: a  user")


def test_a_trigger_without_dedup_key_is_given_one(intake: Intake) -> None:
    key = intake.key("ticketing", "harassment")
    status, answer = intake.post(trigger(key))
    assert status == 202 and len(answer["dedup_key"]) == 32
    ack = {"routing_key": key, "event_action": "acknowledge", "dedup_key": answer["dedup_key"]}
    assert intake.post(ack)[0] == 202
    assert intake.cases()[0].status == "acknowledged"


@pytest.mark.parametrize(
    ("severity", "sev"),
    [("critical", "sev1"), ("error", "sev2"), ("warning", "sev3"), ("info", "sev4")],
)
def test_severities_map_to_sev1_to_sev4(intake: Intake, severity: str, sev: str) -> None:
    body = trigger(intake.key("alerts"))
    body["payload"]["severity"] = severity
    assert intake.post(body)[0] == 202
    assert intake.cases()[0].severity == sev


def test_a_revoked_or_unknown_key_is_forbidden_and_says_nothing_else(intake: Intake) -> None:
    key = intake.key("old-tool")
    with intake.db.transaction() as session:
        keys.revoke(session, team_id=intake.team_id, name="old-tool", actor="t", at=NOW)
    before = intake.count(AuditEvent)
    revoked = intake.post(trigger(key))
    unknown = intake.post(trigger("x" * 32))
    assert revoked == unknown == (403, {"status": "invalid event", "message": "Forbidden"})
    assert intake.cases() == [] and intake.count(AuditEvent) == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "the body is not a JSON object"),
        (b'{"event_action": "trigger"}', "'routing_key' is missing"),
    ],
)
def test_unreadable_bodies_are_400_with_a_reason(intake: Intake, body: bytes, reason: str) -> None:
    status, answer = intake.post(body)
    assert status == 400 and answer["errors"] == [reason]
    assert intake.cases() == []


def test_bad_events_are_400_with_every_reason_and_change_nothing(intake: Intake) -> None:
    key = intake.key("mail-gateway")
    before = intake.count(AuditEvent)
    status, answer = intake.post({"routing_key": key, "event_action": "page-everyone"})
    assert status == 400
    assert answer["errors"] == ["'event_action' must be one of trigger, acknowledge, resolve"]

    status, answer = intake.post({"routing_key": key, "event_action": "resolve"})
    assert (status, answer["errors"]) == (400, ["'dedup_key' is required to resolve"])

    body = trigger(key)
    body["payload"] = {"summary": " ", "severity": "loud"}
    status, answer = intake.post(body)
    assert status == 400
    assert answer["errors"] == [
        "'payload.summary' is missing or empty",
        "'payload.source' is missing or empty",
        "'payload.severity' must be one of critical, error, warning, info",
    ]
    assert intake.cases() == [] and intake.count(AuditEvent) == before


def test_a_body_over_512_kib_is_refused(intake: Intake) -> None:
    key = intake.key("mail-gateway")
    body = trigger(key)
    body["payload"]["custom_details"] = {"blob": "x" * (events.MAX_BODY_BYTES + 1)}
    status, answer = intake.post(body)
    assert status == 400 and answer["errors"] == ["the body is over 512 KiB"]
    assert intake.cases() == []


def _post_chunked(url: str, pieces: list[bytes]) -> tuple[int, dict[str, Any]]:
    """POST with `Transfer-Encoding: chunked` and no Content-Length, as streaming tools do."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(
            "POST",
            parts.path,
            body=iter(pieces),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_chunked_body_is_read_as_the_event(intake: Intake) -> None:
    key = intake.key("mail-gateway")
    data = json.dumps(trigger(key, dedup_key="chunked-1")).encode()
    pieces = [data[i : i + 40] for i in range(0, len(data), 40)]
    status, answer = _post_chunked(intake.url, pieces)
    assert (status, answer.get("dedup_key")) == (202, "chunked-1")
    assert len(intake.cases()) == 1
    body = trigger(key)
    body["payload"]["custom_details"] = {"blob": "x" * (events.MAX_BODY_BYTES + 1)}
    big = json.dumps(body).encode()
    status, answer = _post_chunked(
        intake.url, [big[i : i + 65536] for i in range(0, len(big), 65536)]
    )
    assert status == 400 and answer["errors"] == ["the body is over 512 KiB"]
    assert len(intake.cases()) == 1


def test_acknowledging_an_unknown_dedup_key_changes_nothing(intake: Intake) -> None:
    key = intake.key("mail-gateway")
    ack = {"routing_key": key, "event_action": "acknowledge", "dedup_key": "never-sent"}
    status, answer = intake.post(ack)
    assert status == 202 and answer["message"] == "No open case has this dedup_key; nothing changed"
    assert intake.cases() == []


def test_each_key_is_rate_limited_per_minute(intake: Intake) -> None:
    busy, calm = intake.key("busy"), intake.key("calm")
    ack = {"routing_key": busy, "event_action": "acknowledge", "dedup_key": "k"}
    answers = [intake.post(ack)[0] for _ in range(events.PER_MINUTE + 1)]
    assert answers[:-1] == [202] * events.PER_MINUTE
    assert answers[-1] == 429
    assert intake.post({**ack, "routing_key": calm})[0] == 202  # another key is not held back
    intake.clock.advance(timedelta(minutes=1))
    assert intake.post(ack)[0] == 202


def test_a_child_safety_case_cannot_be_resolved_before_its_report(intake: Intake) -> None:
    key = intake.key("hash-matcher", "child-safety")
    assert intake.post(trigger(key, dedup_key="m1"))[0] == 202
    status, answer = intake.post({"routing_key": key, "event_action": "resolve", "dedup_key": "m1"})
    assert status == 400 and "reporting duty" in answer["errors"][0]
    [case] = intake.cases()
    assert case.status == "open" and case.restricted
