"""`/ts audit TS-… [page]`: a case's audit trail in plain words, for admins only.

Parsing and rendering only; who may read it, paging and auditing the reading itself live in
`chatops.cases.trail`.
"""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import Field

from chatops.audit import AuditEvent
from chatops.blockkit import Reply, quote_input
from chatops.cases.trail import PAGE_SIZE, case_trail
from commands.command import Command
from commands.context import Context, UsageError
from commands.registry import verb
from commands.rota_view import local, mention
from commands.verbs.case import CaseKey, case_word, known_key

USAGE = "/ts audit TS-YYYY-NNNN [page]"

#: What each action means, as a sentence's verb phrase; unknown actions show their name.
WORDS = {
    "case.open": "opened the case",
    "case.page": "paged",
    "case.acknowledge": "acknowledged it",
    "case.escalate": "escalated it",
    "case.assign": "reassigned it",
    "case.take": "took it",
    "case.note": "added a note",
    "case.resolve": "resolved it",
    "case.view_restricted": "read its restricted details",
    "case.hold": "put it on legal hold",
    "case.release": "released its legal hold",
    "case.audit_view": "read this audit trail",
    "case.purge": "purged it",
    "page.delivered": "delivered a page",
    "page.retry": "will retry a page",
}


@verb(
    "audit",
    summary="Admins: read a case's audit trail (who did what, when), 20 events a page.",
    usage=USAGE,
    examples=("/ts audit TS-2027-0042", "/ts audit TS-2027-0042 2"),
    details="Only admins may; each reading is itself recorded in the audit trail.",
)
class AuditTrail(Command):
    key: CaseKey
    page: int = Field(default=1, ge=1)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        word = case_word(args, USAGE)
        if len(args) > 2:
            raise UsageError("audit takes the case id and a page number", USAGE)
        page = 1
        if len(args) == 2:
            if not args[1].isdigit() or int(args[1]) < 1:
                raise UsageError(f"`{quote_input(args[1])}` is not a page number", USAGE)
            page = int(args[1])
        return cls(key=known_key(word), page=page)

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            trail = case_trail(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                page=self.page,
            )
        first = (trail.page - 1) * PAGE_SIZE + 1
        lines = [
            f"*Audit trail of {trail.key}*: events {first}–{first + len(trail.events) - 1} "
            f"of {trail.total} (page {trail.page} of {trail.pages})"
        ]
        lines += [line(ctx, e) for e in trail.events]
        if trail.page < trail.pages:
            lines.append(f"More: `/ts audit {trail.key} {trail.page + 1}`")
        return Reply(text="\n".join(lines))


def line(ctx: Context, event: AuditEvent) -> str:
    """One event as a sentence: when, who, what, and the ids and counts it recorded."""
    who = "the bot" if event.actor in {"system", "cli"} else mention(event.actor)
    what = WORDS.get(event.action, event.action)
    facts = _facts(event.detail)
    return f"{local(ctx, event.at)} {who} {what}" + (f" ({facts})" if facts else "")


def _facts(detail: str) -> str:
    try:
        found: Any = json.loads(detail)
    except ValueError:
        return ""
    if not isinstance(found, dict):
        return ""
    shown = []
    for name, value in sorted(found.items()):
        if value in (None, [], {}, ""):
            continue
        if isinstance(value, list):
            value = ", ".join(mention(v) if str(v).startswith("U") else str(v) for v in value)
        shown.append(f"{name.replace('_', ' ')} {value}")
    return "; ".join(shown)
