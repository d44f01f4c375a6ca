"""`/ts emergency [type] <what happened…>`: anyone in the workspace can raise the alarm.

Someone outside the Trust & Safety team who sees a threat to life must be able to page the
on-call without knowing the rota. The case opens as `other` sev2 (or the type named first) and
pages like any case; the reporter learns the case id and nothing else: no rota, no names, no
levels, since the person typing may not be who they claim or may be the threat. Each person may
raise few alarms a minute (counted in the audit trail, like every paging).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field

from chatops.blockkit import Reply, blank
from chatops.cases import opening, origins
from chatops.cases.models import CaseType, Severity
from chatops.cases.pacing import check_paging_rate
from chatops.escalation.messages import headline
from commands import forms
from commands.command import Command, FreeText
from commands.context import Context, Refused, UsageError
from commands.parsing import raw, verbatim
from commands.registry import form, verb
from commands.verbs.case import paging_line

USAGE = "/ts emergency [type] <what happened…>"
#: Alarms one person may raise a minute: enough for a correction, too few to flood the on-call.
PER_MINUTE = 2
ANSWER = (
    ":rotating_light: Thank you. Your report is case {key}; the on-call responder has been paged."
)


#: Option names of other verbs that people carry over (`lang:ar`); any other `x:y` word is part
#: of the report (`Talk:Meetup`, `https://…`, `details:"he has a gun"`).
_OPTIONS = frozenset({"lang", "restricted", "type", "sev", "severity", "kind"})


def _not_a_report(word: str) -> bool:
    """A word that says nothing of what happened: a severity (`sev1`), an option (`lang:ar`),
    which the emergency form does not take, or nothing visible (`""`, a zero-width space)."""
    text = raw(word).lower()
    key, colon, _ = text.partition(":")
    return text in {s.value for s in Severity} or bool(colon and key in _OPTIONS) or blank(text)


@verb(
    "emergency",
    summary="Anyone: report an emergency to the on-call responder (you get a case id).",
    usage=USAGE,
    examples=(
        "/ts emergency A user says they will hurt someone at tonight's meetup",
        "/ts emergency self-harm A user posted a goodbye note on their talk page",
    ),
    details="For people outside the team too. Opens a sev2 case (type `other` unless a type "
    "comes first) and pages the on-call responder.",
    members_only=False,
)
class Emergency(Command):
    case_type: CaseType = CaseType.other
    text: FreeText = Field(repr=False)  # the report: restricted with its case when restricted

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if not args:
            raise UsageError("say what happened", USAGE)
        first = args[0].lower()
        case_type = CaseType.other
        if first in {t.value for t in CaseType}:
            case_type, args = CaseType(first), args[1:]
        if not args or all(_not_a_report(word) for word in args):
            after = f" after `{first}`" if case_type != CaseType.other else ""
            raise UsageError(f"say what happened{after}, in your own words", USAGE)
        return cls(case_type=case_type, text=verbatim(args))

    def run(self, ctx: Context) -> Reply:
        reporter = ctx.actor.slack_id if ctx.actor is not None else ctx.user_id
        if reporter is None:
            raise Refused("I cannot tell who you are; use /ts emergency from Slack")
        with ctx.db.transaction() as session:
            try:
                check_paging_rate(
                    session,
                    team_id=ctx.team_id,
                    actor=reporter,
                    at=ctx.clock(),
                    per_minute=PER_MINUTE,
                )
            except Refused:
                raise Refused(
                    f"you have raised {PER_MINUTE} alarms in the last minute, the most one person "
                    "may; the on-call responder already has your reports: wait a minute to add "
                    "another"
                ) from None
            case, _ = opening.open_emergency(
                session,
                team_id=ctx.team_id,
                reporter=reporter,
                at=ctx.clock(),
                case_type=self.case_type.value,
                summary=self.text,
                report_within=ctx.report_within,
            )
        return Reply(text=ANSWER.format(key=case.key))


@form(forms.REPORT_FORM, check=forms.report_form_errors, members_only=False)
def report_message_form(values: forms.FormValues, ctx: Context) -> Reply:
    """*Report to Trust & Safety* on a message: a case that keeps the message's link and author.

    A member's report opens like `/ts case open` (their own paging limit, whom it paged); anyone
    else's like `/ts emergency` (two a minute, the case id and nothing more).
    """
    submitted, errors = forms.read_report_form(values)
    if submitted is None:
        raise UsageError("; ".join(errors.values()))
    ref = forms.MessageRef.from_metadata(ctx.form_metadata)
    if ref is None:
        raise Refused("this report lost track of its message; use the shortcut on it again")
    reporter = ctx.actor.slack_id if ctx.actor is not None else ctx.user_id
    if reporter is None:
        raise Refused("I cannot tell who you are; report from Slack")
    with ctx.db.transaction() as session:
        if ctx.actor is not None:
            check_paging_rate(
                session,
                team_id=ctx.team_id,
                actor=reporter,
                at=ctx.clock(),
                per_minute=ctx.page_limit_per_minute,
            )
            case, paging = opening.open_case(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                at=ctx.clock(),
                case_type=submitted.case_type,
                severity=submitted.severity,
                summary=submitted.summary,
                details=submitted.details,
                report_within=ctx.report_within,
                source="shortcut",
            )
        else:
            check_paging_rate(
                session, team_id=ctx.team_id, actor=reporter, at=ctx.clock(), per_minute=PER_MINUTE
            )
            case, paging = opening.open_emergency(
                session,
                team_id=ctx.team_id,
                reporter=reporter,
                at=ctx.clock(),
                case_type=submitted.case_type,
                severity=submitted.severity,
                summary=submitted.summary,
                details=submitted.details,
                report_within=ctx.report_within,
                source="shortcut",
            )
        assert case.id is not None
        origins.record_message(
            session,
            case_id=case.id,
            permalink=ref.permalink,
            author=ref.author,
            channel=ref.channel,
            ts=ref.ts,
        )
    if ctx.actor is None:
        return Reply(text=ANSWER.format(key=case.key))
    title = headline(case.key, case.type, case.severity)
    return Reply(
        text=f":white_check_mark: Reported as *{title}*. {paging_line(paging, ctx, case.key)}"
    )
