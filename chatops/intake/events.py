"""`POST /intake/v2/enqueue`: PagerDuty Events API v2 events from other tools, as cases.

A mail gateway for the emergency mailbox, a ticketing system or an alerting tool that already
speaks PagerDuty's Events API can open, acknowledge and resolve cases here by changing its URL
and routing key. Transport-neutral: `handle` takes the body's bytes and returns the status and
JSON the HTTP route sends back.

- `trigger` opens a case of the integration's type, paged like any case. A `dedup_key` that
  names an open case of the same integration adds a line to its timeline instead (no second
  case, no second page); without a `dedup_key` one is made and returned.
- `acknowledge` and `resolve` act on the open case of that `dedup_key`, audited with the
  integration's name (`intake:NAME`) as actor. A child-safety case owes its report before it can
  be resolved, whoever asks.
- Severity: critical → sev1, error → sev2, warning → sev3, info → sev4.
- `summary` becomes the case summary and `source`/`component`/`group`/`class`/`custom_details`
  its details: on a restricted type they stay in the case rows (invariant 6).
- Answers as PagerDuty does: 202 with the `dedup_key`; 400 with the reasons for bad input; an
  unknown or revoked key 403 with nothing else; more than `PER_MINUTE` events a minute on one
  key 429.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from chatops.blockkit import blank, has_lone_surrogate, storable
from chatops.cases import by_tool, opening
from chatops.cases.models import Case, CaseStatus
from chatops.clock import Clock
from chatops.db import Database, as_utc
from chatops.errors import Refused
from chatops.intake.keys import live_by_key
from chatops.intake.models import IntakeAlert, Integration

log = logging.getLogger(__name__)

PATH = "/intake/v2/enqueue"
#: PagerDuty refuses events over 512 KB; so do we, before reading them.
MAX_BODY_BYTES = 512 * 1024
#: Events one routing key may send a minute (PagerDuty allows 120; a T&S queue needs far fewer).
PER_MINUTE = 60
SUMMARY_MAX = 1024  # PagerDuty's limit; longer summaries are cut, as it does
DEDUP_MAX = 255
DETAILS_MAX = 3000  # what `/ts case show` displays
SEVERITIES = {"critical": "sev1", "error": "sev2", "warning": "sev3", "info": "sev4"}
ACTIONS = ("trigger", "acknowledge", "resolve")
_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def _success(dedup_key: str, message: str = "Event processed") -> Answer:
    return Answer(202, {"status": "success", "message": message, "dedup_key": dedup_key})


def _invalid(*errors: str) -> Answer:
    return Answer(
        400,
        {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)},
    )


FORBIDDEN = Answer(403, {"status": "invalid event", "message": "Forbidden"})
THROTTLED = Answer(
    429,
    {"status": "throttle event", "message": "Too many events for this routing key; retry later"},
)


@dataclass(frozen=True)
class Event:
    action: str
    dedup_key: str | None
    summary: str
    severity: str
    details: str


def _read(data: dict[str, Any]) -> Event | list[str]:
    """The event, or every reason it is not one."""
    errors: list[str] = []
    action = data.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup = data.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup.strip()):
        errors.append("'dedup_key' must be a non-empty string")
    elif isinstance(dedup, str) and len(dedup) > DEDUP_MAX:
        errors.append(f"'dedup_key' is longer than {DEDUP_MAX} characters")
    if action in ("acknowledge", "resolve") and dedup is None:
        errors.append(f"'dedup_key' is required to {action}")
    summary, severity, details = "", "", ""
    if action == "trigger":
        payload = data.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            given = payload.get("summary")
            summary = given if isinstance(given, str) else ""
            if blank(summary):
                errors.append("'payload.summary' is missing or empty")
            source = payload.get("source")
            if not isinstance(source, str) or not source.strip():
                errors.append("'payload.source' is missing or empty")
            severity = str(payload.get("severity"))
            if severity not in SEVERITIES:
                errors.append("'payload.severity' must be one of critical, error, warning, info")
            if not errors:
                details = _details(payload)
    if errors:
        return errors
    assert isinstance(action, str)
    return Event(
        action,
        storable(dedup.strip()) if isinstance(dedup, str) else None,
        storable(summary).strip()[:SUMMARY_MAX],
        SEVERITIES.get(severity, ""),
        storable(details),
    )


def _details(payload: dict[str, Any]) -> str:
    lines = [
        f"{name}: {payload[name]}"
        for name in ("source", "component", "group", "class")
        if isinstance(payload.get(name), str) and payload[name].strip()
    ]
    custom = payload.get("custom_details")
    if custom is not None:
        text = (
            custom if isinstance(custom, str) else json.dumps(custom, ensure_ascii=False, indent=1)
        )
        lines.append(f"custom_details: {text}")
    return "\n".join(lines)[:DETAILS_MAX]


def handle(db: Database, body: bytes, *, now: datetime, report_within: timedelta) -> Answer:
    """One event: check, authenticate, pace, act; one transaction, audited.

    `report_within` is the deployment's reporting deadline, for a policy that sets none.
    """
    if len(body) > MAX_BODY_BYTES:
        return _invalid(f"the body is over {MAX_BODY_BYTES // 1024} KiB")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _invalid("the body is not JSON")
    if not isinstance(data, dict):
        return _invalid("the body is not a JSON object")
    if _any_lone_surrogate(data):
        return _invalid("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), not text")
    key = data.get("routing_key")
    if key is None or key == "":
        return _invalid("'routing_key' is missing")
    if not isinstance(key, str):
        return _invalid("'routing_key' must be a string")
    with db.transaction() as session:
        integration = live_by_key(session, key)
        if integration is None:
            return FORBIDDEN
        session.add(integration)
        if not _within_rate(integration, now):
            return THROTTLED
        event = _read(data)
        if isinstance(event, list):
            return _invalid(*event)
        try:
            return _act(session, integration, event, now=now, report_within=report_within)
        except Refused as refused:  # raised before any change: only the rate count is kept
            return _invalid(refused.reason)


def _any_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return has_lone_surrogate(value)
    if isinstance(value, dict):
        return any(_any_lone_surrogate(k) or _any_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_any_lone_surrogate(v) for v in value)
    return False


def _within_rate(integration: Integration, now: datetime) -> bool:
    """Count this event in the key's minute (fixed window, on the locked row)."""
    start = as_utc(integration.window_start) if integration.window_start else None
    if start is None or now - start >= _WINDOW or now < start:
        integration.window_start, integration.window_count = now, 0
    if integration.window_count >= PER_MINUTE:
        return False
    integration.window_count += 1
    return True


def _open_alert(session: Session, integration: Integration, dedup_key: str) -> Case | None:
    """The open case of this integration under `dedup_key`, locked, or None."""
    rows = session.exec(
        select(Case)
        .join(IntakeAlert, col(IntakeAlert.case_id) == col(Case.id))
        .where(
            IntakeAlert.integration_id == integration.id,
            IntakeAlert.dedup_key == dedup_key,
            col(Case.status) != CaseStatus.resolved.value,
        )
        .order_by(col(IntakeAlert.id).desc())
        .with_for_update()
    )
    return rows.first()


def _act(
    session: Session,
    integration: Integration,
    event: Event,
    *,
    now: datetime,
    report_within: timedelta,
) -> Answer:
    assert integration.id is not None
    actor = f"intake:{integration.name}"
    dedup_key = event.dedup_key or uuid.uuid4().hex
    case = _open_alert(session, integration, dedup_key)
    if event.action == "trigger":
        if case is not None:
            by_tool.retrigger(
                session,
                case=case,
                actor=actor,
                at=now,
                summary=event.summary,
                severity=event.severity,
            )
            return _success(dedup_key)
        case, _ = opening.open_emergency(
            session,
            team_id=integration.team_id,
            reporter=actor,
            at=now,
            case_type=integration.case_type,
            summary=event.summary,
            details=event.details,
            severity=event.severity,
            report_within=report_within,
            source="intake",
        )
        assert case.id is not None
        session.add(
            IntakeAlert(
                integration_id=integration.id, dedup_key=dedup_key, case_id=case.id, opened_at=now
            )
        )
        log.info("intake: case opened", extra={"integration": integration.name, "case": case.key})
        return _success(dedup_key)
    if case is None:
        return _success(dedup_key, "No open case has this dedup_key; nothing changed")
    if event.action == "acknowledge":
        by_tool.acknowledge(session, case=case, actor=actor, at=now)
    else:
        by_tool.resolve(session, case=case, actor=actor, at=now)
    return _success(dedup_key)


def intake_server(
    db: Database, clock: Clock, *, report_within: timedelta
) -> Callable[[bytes], tuple[int, dict[str, Any]]]:
    """What the HTTP server calls for `POST /intake/v2/enqueue`."""

    def serve(body: bytes) -> tuple[int, dict[str, Any]]:
        answer = handle(db, body, now=clock(), report_within=report_within)
        return answer.status, answer.body

    return serve
