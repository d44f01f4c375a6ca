"""`/ts case open|show|note|assign|resolve|list|edit|hold|release`: the life of a Trust & Safety
case.

Parsing and rendering only; every rule (permissions, restricted text, audit) lives in
`chatops.cases.service`, so Slack, the console and tests get the same answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from chatops.blockkit import Reply, context, fields, header, quote_input, section, user_text
from chatops.cases import access, opening, queries, reporting, retention, service
from chatops.cases.ids import KEY_PATTERN
from chatops.cases.ladder import Paging
from chatops.cases.models import SEVERITY_MEANING, CaseType, Severity
from chatops.cases.pacing import check_paging_rate
from chatops.cases.timeline import PAGE_SIZE, describe
from chatops.clock import parse_duration
from chatops.escalation.messages import TAKE_ACTION, headline
from chatops.escalation.policy import ADMINS_LEVEL
from chatops.languages import spoken
from chatops.oncall.away import away_at
from chatops.outbox.models import OutboxState
from commands import forms
from commands.command import Command, FreeText, SlackId, UtcDatetime
from commands.context import Context, Refused, UsageError
from commands.parsing import read_options, suggest, verbatim
from commands.registry import action, form, verb
from commands.rota_view import local, mention, read_member, team_rota
from commands.timeparse import parse_when

OPEN_USAGE = '/ts case open <type> <sev1-4> <summary…> [lang:xx] [details:"…"]'
USAGE = "/ts case open|show|note|assign|resolve|list|edit|hold|release|report|report-due …"
SUBVERB_USAGE = {
    "open": OPEN_USAGE,
    "show": "/ts case show TS-YYYY-NNNN [page:N]",
    "note": "/ts case note TS-YYYY-NNNN <text…>",
    "assign": "/ts case assign TS-YYYY-NNNN [to] @member",
    "resolve": "/ts case resolve TS-YYYY-NNNN [reason…]",
    "list": "/ts case list [open|mine|resolved] [type:TYPE] [since:7d|YYYY-MM-DD]",
    "edit": "/ts case edit TS-YYYY-NNNN summary|type|sev <new value…>",
    "hold": "/ts case hold TS-YYYY-NNNN <reason…>",
    "release": "/ts case release TS-YYYY-NNNN",
    "report": "/ts case report TS-YYYY-NNNN filed <report id> | no-report <reason…>",
    "report-due": "/ts case report-due TS-YYYY-NNNN <24h|2d>",
}
LIST_LIMIT = 25
TYPES = ", ".join(t.value for t in CaseType)
SEVERITIES = "\n".join(f"`{s.value}` — {SEVERITY_MEANING[s]}" for s in Severity)
OPEN_OPTIONS = frozenset({"lang", "details", "restricted"})


def _not_a_key(word: str) -> str:
    # The service's own words for this, so a typed line and a button answer alike.
    return f"'{quote_input(word)}' is not a case id (they look like TS-2027-0042)"


def _case_key(value: str) -> str:
    if not KEY_PATTERN.match(value.strip()):
        raise ValueError(_not_a_key(value))
    return value


CaseKey = Annotated[str, AfterValidator(_case_key)]
"""A case id as typed (`TS-2027-0042`, `ts-2027-42`); the service finds its canonical form."""


def _language(code: str) -> str:
    if not forms.valid_language(code):
        raise ValueError(f"`lang:{quote_input(code)}` is not a language code like ar or pt-BR")
    return code


Language = Annotated[str, AfterValidator(_language)]
"""A language code like `ar` or `pt-BR`: whom to ask to advise on the case."""


def case_word(args: list[str], usage: str) -> str:
    """The first word must name the case; whether it reads as an id is checked by `known_key`."""
    if not args:
        raise UsageError("name the case, e.g. TS-2027-0042", usage)
    return args[0]


def known_key(word: str) -> str:
    """`word` if it reads as a case id, else refused in the very words the service would use.

    Called last in a parse, after the line's usage mistakes, as the service used to check it.
    """
    if not KEY_PATTERN.match(word.strip()):
        raise Refused(_not_a_key(word))
    return word


def member_words(ctx: Context, words: list[str]) -> tuple[str, int]:
    """The member named at the start of `words` (a mention, `@Sofía Martínez`, `sofia`) as a
    Slack id, and the words it took; a mention of an outsider is refused by the service."""
    return read_member(words, team_rota(ctx).spec, me=ctx.asker)


def paging_line(paging: Paging, ctx: Context, key: str) -> str:
    people = ", ".join(mention(p) for p in paging.paged) or "nobody"
    level = f"level {paging.level}" if paging.level.isdigit() else paging.level
    parts = [f"Paged {level}: {people}"]
    if paging.role == "fallback":
        parts.append("(nobody on call: the managers)")
    if paging.advisor:
        parts.append(f"and {mention(paging.advisor)} as language advisor")
    if paging.skipped:
        parts.append(f"(skipped empty level {', '.join(paging.skipped)})")
    line = " ".join(parts) + "."
    if paging.held_until is not None and paging.held_until > ctx.clock():
        line += (
            f" Routine case: the pages wait for working hours; the first goes out at "
            f"{local(ctx, paging.held_until)}."
        )
    if paging.no_speaker:
        line += (
            f" Nobody on the team speaks `{paging.no_speaker}`: find an interpreter or a "
            "translation service."
        )
    if paging.next_due is not None:
        again = "Pages again" if paging.level == ADMINS_LEVEL else "Next level"
        line += f" {again} at {local(ctx, paging.next_due)} unless acknowledged."
    with ctx.db.reading() as session:
        away = away_at(session, ctx.team_id, ctx.clock(), paging.paged)
    if away:
        said = ", ".join(f"{mention(m)} until {local(ctx, back)}" for m, back in away.items())
        line += (
            f" :palm_tree: Said they are away: {said}. `/ts escalate {key}` pages the next level."
        )
    return line


@verb(
    "case",
    summary="Open a case (pages the on-call at once), or show, note, assign, resolve, edit, "
    "list them.",
    usage=USAGE,
    examples=(
        "/ts case open threat-of-violence sev1 Threat against a meetup on the talk page lang:ar",
        "/ts case show TS-2027-0042",
        "/ts case note TS-2027-0042 Police contacted, reference 1234",
        "/ts case assign TS-2027-0042 @amira",
        "/ts case resolve TS-2027-0042 handed to law enforcement",
        "/ts case list mine",
        "/ts case list resolved type:self-harm since:7d",
        "/ts case edit TS-2027-0042 sev sev2",
        "/ts case edit TS-2027-0042 summary Threat against a meetup, venue named",
        "/ts case hold TS-2027-0042 preservation request 2027-114",
    ),
    details="\n".join(f"`{u}`" for u in SUBVERB_USAGE.values())
    + f"\nTypes: {TYPES}.\nSeverities:\n{SEVERITIES}\n"
    "child-safety and self-harm cases are restricted: channels see only id, type and severity.\n"
    "`case list` shows open cases (`mine`: assigned to you or paging you; `resolved`); "
    "`case edit` corrects a summary, type or severity, keeping the old value in the timeline.\n"
    "Resolved cases are deleted after their retention; managers can `hold` one to keep it.",
    subverbs=tuple(SUBVERB_USAGE),
)
class CaseCommand(Command):
    """A `/ts case …` line; its parse picks the sub-verb, whose model does the work."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> CaseCommand:
        if not args:
            raise UsageError(
                "say what to do: open, show, note, assign, resolve, list, edit, hold or release",
                USAGE,
            )
        name = args[0].lower()
        sub = SUBVERBS.get(name)
        if sub is None:
            raise UsageError(
                f"unknown case action `{quote_input(args[0])}`{suggest(name, list(SUBVERBS))}",
                USAGE,
            )
        return sub.parse(args[1:], ctx)


class CaseOpen(CaseCommand):
    """A new case; `restricted` None leaves it to the type (child-safety, self-harm: yes)."""

    case_type: CaseType
    severity: Severity
    summary: FreeText = Field(repr=False)  # restricted text: never in a log line
    details: FreeText = Field(default="", repr=False)
    language: Language | None = None
    restricted: bool | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        """`<type> <severity>`, then the summary exactly as typed, options before or after it."""
        if not args:
            raise UsageError(
                "a case needs a type, a severity and a summary (in Slack, `/ts case open` alone "
                "opens a form)",
                OPEN_USAGE,
            )
        if len(args) < 3:
            raise UsageError("a case needs a type, a severity and a summary", OPEN_USAGE)
        kind, severity = args[0].lower(), args[1].lower()
        types = [t.value for t in CaseType]
        if kind not in types:
            raise UsageError(
                f"unknown case type `{quote_input(args[0])}`{suggest(kind, types)}; "
                f"valid types: {TYPES}",
                OPEN_USAGE,
            )
        if severity not in {s.value for s in Severity}:
            valid = ", ".join(s.value for s in Severity)
            raise UsageError(
                f"unknown severity `{quote_input(args[1])}`; valid severities: {valid}",
                OPEN_USAGE,
            )
        try:
            read = read_options(args[2:], OPEN_OPTIONS)
        except UsageError as error:  # an option's mistake is shown with `case open`'s usage
            raise UsageError(error.reason, error.usage or OPEN_USAGE) from None
        if not read.text:
            raise UsageError("a case needs a type, a severity and a summary", OPEN_USAGE)
        options = read.values
        restricted = None
        if "restricted" in options:
            flag = options["restricted"].lower()
            if flag not in {"yes", "no"}:
                raise UsageError("restricted: takes yes or no", OPEN_USAGE)
            restricted = flag == "yes"
        language = options.get("lang") or None
        if language is not None and not forms.valid_language(language):
            team = spoken([x for m in team_rota(ctx).spec.members for x in m.languages])
            raise UsageError(
                f"`lang:{quote_input(language)}` is not a language code like ar or pt-BR "
                f"(ISO 639-1); your team speaks {user_text(team)}",
                OPEN_USAGE,
            )
        return cls(
            case_type=CaseType(kind),
            severity=Severity(severity),
            summary=read.text,
            details=options.get("details", ""),
            language=language,
            restricted=restricted,
        )

    @classmethod
    def from_form(cls, submitted: forms.CaseForm) -> Self:
        """The Slack modal's values (checked by `forms.read_case_form` to the typed line's
        rules) as the same command the typed line gives."""
        return cls(
            case_type=submitted.case_type,
            severity=submitted.severity,
            summary=submitted.summary,
            details=submitted.details,
            language=submitted.language,
            restricted=submitted.restricted,
        )

    def run(self, ctx: Context) -> Reply:
        """Open the case and say whom it paged: the one path for the typed line and the form."""
        with ctx.db.transaction() as session:
            check_paging_rate(session, **pacing(ctx))
            case, paging = opening.open_case(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                at=ctx.clock(),
                case_type=self.case_type.value,
                severity=self.severity.value,
                summary=self.summary,
                details=self.details,
                language=self.language,
                restricted=self.restricted,
                report_within=ctx.report_within,
            )
        title = headline(case.key, case.type, case.severity)
        restricted_note = (
            " Restricted: the channel sees only its id, type and severity."
            if case.restricted
            else ""
        )
        paged = paging_line(paging, ctx, case.key)
        text = f":white_check_mark: Opened *{title}*. {paged}{restricted_note}"
        return Reply(text=text)


def pacing(ctx: Context) -> dict[str, Any]:
    """The arguments of `check_paging_rate` for the asker of `ctx`, now."""
    return {
        "team_id": ctx.team_id,
        "actor": ctx.actor.slack_id if ctx.actor else None,
        "at": ctx.clock(),
        "per_minute": ctx.page_limit_per_minute,
    }


@form(forms.CASE_OPEN_FORM, check=forms.case_form_errors)
def case_open_form(values: forms.FormValues, ctx: Context) -> Reply:
    """The Slack modal's submission, opened exactly as `/ts case open …` would."""
    submitted, errors = forms.read_case_form(values)
    if submitted is None:
        # Normally answered inline before the modal closed; say it anyway rather than drop it.
        raise UsageError("; ".join(errors.values()), OPEN_USAGE)
    return CaseOpen.from_form(submitted).run(ctx)


@action(TAKE_ACTION)
def take_button(value: str, ctx: Context) -> Reply:
    """Take case: the clicker gets the case (acknowledged if still open); the channel is told."""
    with ctx.db.transaction() as session:
        case = service.take(
            session, team_id=ctx.team_id, actor=ctx.actor, key=value, at=ctx.clock()
        )
    who = mention(case.assignee or "")
    post = Reply(
        text=f":raised_hand: {headline(case.key, case.type, case.severity)} taken by {who}."
    )
    return Reply(
        text=f":raised_hand: {case.key} is yours now; its escalation is stopped.", posts=[post]
    )


class CaseShow(CaseCommand):
    key: CaseKey
    page: int = Field(default=1, ge=1)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["show"]
        word = case_word(args, usage)
        page = 1
        for extra in args[1:]:
            name, sep, value = extra.partition(":")
            if sep and name.lower() == "page":
                if not value.isdigit() or int(value) < 1:
                    raise UsageError(
                        f"`{quote_input(extra)}` is not a page number like page:2", usage
                    )
                page = int(value)
            else:
                raise UsageError("show takes the case id and an optional page:N", usage)
        return cls(key=known_key(word), page=page)

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            view = queries.show(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                page=self.page,
            )
        case = view.case
        pairs = [
            ("Status", case.status),
            ("Level", view.level),
            ("Assignee", mention(case.assignee) if case.assignee else "nobody yet"),
            ("Reporter", mention(case.reporter)),
            ("Opened", local(ctx, case.opened_at)),
        ]
        if case.language:
            pairs.append(("Language", case.language))
        if view.next_escalation is not None:
            pairs.append(("Next escalation", local(ctx, view.next_escalation)))
        pairs.extend(report_pairs(ctx, view))
        delivered = sum(p.state == OutboxState.sent.value for p in view.pages)
        live = [p for p in view.pages if p.state != OutboxState.cancelled.value]
        pairs.append(("Pages", f"{delivered} delivered of {len(live)}"))
        blocks = [header(headline(case.key, case.type, case.severity)), fields(pairs)]
        lines = [headline(case.key, case.type, case.severity), f"status {case.status}"]
        if view.details_visible:
            blocks.append(section(f"*Summary*\n{user_text(case.summary)}"))
            lines.append(user_text(case.summary))
            if view.origin is not None:
                reported = (
                    f"*Reported message* by {mention(view.origin.message_author)}: "
                    f"{view.origin.permalink}"
                )
                blocks.append(section(reported))
                lines.append(reported)
            if case.details:
                blocks.append(section(f"*Details*\n{user_text(case.details)}"))
                lines.append(user_text(case.details))
            if case.restricted:
                blocks.append(
                    context(":lock: Restricted case: this view is recorded in the audit log.")
                )
        else:
            refusal = access.REFUSAL.format(key=case.key)
            blocks.append(section(f":lock: {refusal}"))
            lines.append(refusal)
        if view.referrals:
            listed = "\n".join(
                f"{local(ctx, r.at)} to {user_text(r.agency)} ({r.country}, {r.basis}) by "
                f"{mention(r.by)}" + (f": {user_text(r.note, 300)}" if r.note else "")
                for r in view.referrals
            )
            blocks.append(section(f"*Referrals*\n{listed}"))
            lines.append(f"Referrals:\n{listed}")
        timeline = [
            f"{local(ctx, e.at)} "
            + describe(
                e,
                show_text=view.details_visible,
                level_of=view.level_of,
                local=lambda at: local(ctx, at),
            )
            for e in view.timeline
        ]
        blocks.append(section("*Timeline*\n" + "\n".join(timeline)))
        if view.timeline_pages > 1:
            first = (view.page - 1) * PAGE_SIZE + 1
            shown = f"showing {first}–{first + len(view.timeline) - 1} of {view.timeline_total}"
            if view.page < view.timeline_pages:
                shown += f"; more with `/ts case show {case.key} page:{view.page + 1}`"
            blocks.append(context(f"Timeline {shown} (page {view.page} of {view.timeline_pages})"))
        return Reply(text="\n".join(lines), blocks=blocks)


class CaseNote(CaseCommand):
    key: CaseKey
    text: FreeText = Field(repr=False)  # restricted text: never in a log line

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["note"]
        word = case_word(args, usage)
        if len(args) < 2:
            raise UsageError("the note is empty", usage)
        return cls(key=known_key(word), text=verbatim(args[1:]))

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            service.add_note(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                text=self.text,
            )
        return Reply(text=f":memo: Note added to {self.key.upper()}.")


class CaseAssign(CaseCommand):
    key: CaseKey
    assignee: SlackId

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["assign"]
        word = case_word(args, usage)
        named = args[2:] if len(args) > 2 and args[1].lower() == "to" else args[1:]  # `to @x`
        if not named:
            raise UsageError("name one member to assign the case to", usage)
        try:
            assignee, used = member_words(ctx, named)
        except UsageError as error:
            raise UsageError(error.reason, error.usage or usage) from None
        if used != len(named):
            raise UsageError("name one member to assign the case to", usage)
        return cls(key=known_key(word), assignee=assignee)

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            case = service.reassign(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                assignee=self.assignee,
            )
        text = f":bust_in_silhouette: {case.key} is now assigned to {mention(self.assignee)}."
        return Reply(text=text, posts=[Reply(text=text)])


class CaseResolve(CaseCommand):
    key: CaseKey
    reason: FreeText = Field(default="", repr=False)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        word = case_word(args, SUBVERB_USAGE["resolve"])
        return cls(key=known_key(word), reason=verbatim(args[1:]))

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            case = service.resolve(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                reason=self.reason,
            )
        actor = mention(ctx.actor.slack_id) if ctx.actor else "someone"
        post = Reply(
            text=f":white_check_mark: {headline(case.key, case.type, case.severity)} "
            f"resolved by {actor}."
        )
        return Reply(
            text=f":white_check_mark: {case.key} is resolved; its timers are cancelled.",
            posts=[post],
        )


def since_instant(value: str, ctx: Context) -> datetime:
    """`since:` as typed: a duration back from now (`7d`, `24h`), `today`, `yesterday`, a date
    or an instant, read in the asker's zone; a time still to come is refused."""
    usage = SUBVERB_USAGE["list"]
    now = ctx.clock()
    text = value.strip().lower()
    try:
        back = parse_duration(text)
    except ValueError:
        back = None
    if back is not None:
        if back > SINCE_LONGEST:
            raise UsageError(f"`since:{value}` reaches back more than 10 years", usage)
        return now - back
    if text == "yesterday":
        tz = ZoneInfo(ctx.actor.tz if ctx.actor else "UTC")
        text = (now.astimezone(tz).date() - timedelta(days=1)).isoformat()
    try:
        when = parse_when(text, ctx, now=now)
    except UsageError as error:
        raise UsageError(error.reason, usage) from None
    if when > now:
        raise UsageError(f"`since:{value}` is in the future", usage)
    return when


#: How far back `case list since:` may reach: further than any retention keeps a case.
SINCE_LONGEST = timedelta(days=3653)


class CaseList(CaseCommand):
    """Which cases to list: open (the default), mine or resolved, by type, since an instant."""

    which: queries.CaseListing = queries.CaseListing.open
    case_type: CaseType | None = None
    since: UtcDatetime | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["list"]
        which: queries.CaseListing | None = None
        case_type: CaseType | None = None
        since = None
        listings = [w.value for w in queries.CaseListing]
        for word in args:
            name, sep, value = word.partition(":")
            if sep and name.lower() == "type":
                kind = value.lower()
                if kind not in {t.value for t in CaseType}:
                    raise UsageError(
                        f"unknown case type `{quote_input(value)}`"
                        f"{suggest(kind, [t.value for t in CaseType])}"
                        f"; valid types: {TYPES}",
                        usage,
                    )
                case_type = CaseType(kind)
            elif sep and name.lower() == "since":
                since = since_instant(value, ctx)
            elif not sep and word.lower() in listings:
                if which is not None:
                    raise UsageError(
                        f"list one kind at a time: `{which.value}` or `{word.lower()}`", usage
                    )
                which = queries.CaseListing(word.lower())
            else:
                hint = suggest(word.lower(), listings) if not sep else ""
                raise UsageError(f"unexpected `{quote_input(word)}`{hint}", usage)
        return cls(which=which or queries.CaseListing.open, case_type=case_type, since=since)

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            listed = queries.list_cases(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                which=self.which,
                case_type=self.case_type,
                since=self.since,
            )
        scope = {
            queries.CaseListing.open: "open cases",
            queries.CaseListing.mine: "open cases assigned to you or paging you",
            queries.CaseListing.resolved: "resolved cases",
        }[self.which]
        if self.case_type is not None:
            scope += f" of type {self.case_type.value}"
        if self.since is not None:
            scope += f" since {local(ctx, self.since)}"
        if not listed:
            return Reply(text=f"No {scope}.")
        rows = [_list_row(ctx, item) for item in listed[-LIST_LIMIT:]]
        if len(listed) == 1:
            scope = scope.replace(" cases", " case", 1)
        title = f"{len(listed)} {scope}"
        if len(listed) > LIST_LIMIT:
            title += f" (the latest {LIST_LIMIT} shown; narrow with type: or since:)"
        text = f"*{title[0].upper()}{title[1:]}*\n" + "\n".join(rows)
        return Reply(text=text)


def _list_row(ctx: Context, item: queries.ListedCase) -> str:
    """A restricted case the asker may not read shows only its id, type and severity."""
    c = item.case
    line = f"*{headline(c.key, c.type, c.severity)}*"
    if not item.visible:
        return line + " :lock: restricted"
    parts = [c.status]
    if c.assignee:
        parts.append(mention(c.assignee))
    when = c.resolved_at if c.resolved_at is not None else c.opened_at
    parts.append(("resolved " if c.resolved_at is not None else "opened ") + local(ctx, when))
    return f"{line} — {', '.join(parts)} — {user_text(c.summary, 200)}"


class CaseEdit(CaseCommand):
    """Correct one field: `summary` (restricted text with its case), `type` or `severity`."""

    key: CaseKey
    field: str
    value: str = Field(repr=False)  # a summary is restricted text: never in a log line

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["edit"]
        word = case_word(args, usage)
        if len(args) < 2:
            raise UsageError("say what to correct: summary, type or sev", usage)
        field = args[1].lower()
        if field not in service.EDITABLE:
            fields_ = ["summary", "type", "sev"]
            raise UsageError(
                f"`{quote_input(args[1])}` cannot be edited{suggest(field, fields_)}; "
                "edit the summary, type or sev",
                usage,
            )
        if len(args) < 3:
            raise UsageError(f"give the new {field}", usage)
        value = verbatim(args[2:])
        if service.EDITABLE[field] != "summary":
            if len(args) > 3:
                raise UsageError(f"the {field} is one word, e.g. sev2 or harassment", usage)
            allowed = (
                [t.value for t in CaseType] if field == "type" else [s.value for s in Severity]
            )
            if value.lower() not in allowed:
                near = suggest(value.lower(), allowed)
                raise UsageError(
                    f"unknown {service.EDITABLE[field]} `{quote_input(value)}`{near}; "
                    f"valid: {', '.join(allowed)}",
                    usage,
                )
        return cls(key=known_key(word), field=service.EDITABLE[field], value=value)

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            case, old, restricted_now = service.edit(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                field=self.field,
                value=self.value,
                report_within=ctx.report_within,
            )
        if self.field == "summary":
            return Reply(
                text=f":pencil2: {case.key}'s summary is corrected; the old one stays in its "
                "timeline."
            )
        new = case.type if self.field == "type" else case.severity
        actor = mention(ctx.actor.slack_id) if ctx.actor else "someone"
        title = headline(case.key, case.type, case.severity)
        post = Reply(
            text=f":pencil2: *{title}*: {self.field} changed from {old} to {new} by {actor}."
        )
        note = (
            " It is now restricted: channels see only its id, type and severity."
            if restricted_now
            else ""
        )
        return Reply(
            text=f":pencil2: {case.key}'s {self.field} is now {new} (was {old}); its escalation "
            f"ladder is unchanged.{note}",
            posts=[post],
        )


class CaseHold(CaseCommand):
    """Keep a case past its retention (a legal request); managers and admins only."""

    key: CaseKey
    reason: str = Field(repr=False)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["hold"]
        word = case_word(args, usage)
        if len(args) < 2:
            raise UsageError("say why the case is held, e.g. a legal request's reference", usage)
        return cls(key=known_key(word), reason=" ".join(args[1:]))

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            case = retention.hold(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                reason=self.reason,
            )
        return Reply(text=f":lock: {case.key} is on legal hold: it is kept until released.")


class CaseRelease(CaseCommand):
    key: CaseKey

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["release"]
        word = case_word(args, usage)
        if len(args) > 1:
            raise UsageError("release takes only the case id", usage)
        return cls(key=known_key(word))

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            case = retention.release(
                session, team_id=ctx.team_id, actor=ctx.actor, key=self.key, at=ctx.clock()
            )
        return Reply(
            text=f":unlock: {case.key} is released from legal hold; its usual retention applies."
        )


def report_pairs(ctx: Context, view: queries.CaseView) -> list[tuple[str, str]]:
    """The reporting deadline, the filing (or why none) and the preserve-until date."""
    clock = view.report
    if clock is None:
        return []
    if clock.filed_at is not None:
        pairs = [
            (
                "Report filed",
                f"{user_text(clock.external_id or '')} by "
                f"{mention(clock.filed_by or '')}, {local(ctx, clock.filed_at)}",
            )
        ]
        if clock.preserve_until is not None:
            pairs.append(("Preserve until", local(ctx, clock.preserve_until)))
        return pairs
    if clock.declined_at is not None:
        return [("Report", f"none made (recorded by {mention(clock.declined_by or '')})")]
    late = " (passed)" if clock.deadline_at <= ctx.clock() else ""
    return [("Report due", f"{local(ctx, clock.deadline_at)}{late}")]


class CaseReport(CaseCommand):
    """`filed <report id>` or `no-report <reason…>` (restricted text: the timeline only)."""

    key: CaseKey
    filed: str | None = None
    reason: FreeText = Field(default="", repr=False)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["report"]
        word = case_word(args, usage)
        what = args[1].lower() if len(args) > 1 else ""
        if what == "filed":
            if len(args) != 3:
                raise UsageError("give the one report id the clearinghouse gave", usage)
            return cls(key=known_key(word), filed=args[2])
        if what == "no-report":
            if len(args) < 3:
                raise UsageError("say why no report is made", usage)
            return cls(key=known_key(word), reason=verbatim(args[2:]))
        raise UsageError("say `filed <report id>` or `no-report <reason>`", usage)

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            if self.filed is not None:
                clock = reporting.file_report(
                    session,
                    team_id=ctx.team_id,
                    actor=ctx.actor,
                    key=self.key,
                    at=ctx.clock(),
                    external_id=self.filed,
                    preserve_for=ctx.preserve_for,
                )
            else:
                clock = reporting.decline_report(
                    session,
                    team_id=ctx.team_id,
                    actor=ctx.actor,
                    key=self.key,
                    at=ctx.clock(),
                    reason=self.reason,
                )
        key = self.key.upper()
        if clock.preserve_until is not None:
            return Reply(
                text=f":ballot_box_with_check: {key}: report {user_text(self.filed or '')} "
                f"recorded; the case is preserved until {local(ctx, clock.preserve_until)}."
            )
        return Reply(text=f":ballot_box_with_check: {key}: recorded that no report is made.")


class CaseReportDue(CaseCommand):
    key: CaseKey
    within: str

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["report-due"]
        word = case_word(args, usage)
        if len(args) != 2:
            raise UsageError("give the time to report, like 24h or 2d", usage)
        return cls(key=known_key(word), within=args[1])

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            clock = reporting.opt_in(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                within=self.within,
            )
        return Reply(
            text=f":hourglass: {self.key.upper()}: the report is due by "
            f"{local(ctx, clock.deadline_at)}; reminders go to the assignee and the managers."
        )


SUBVERBS: dict[str, type[CaseCommand]] = {
    "open": CaseOpen,
    "show": CaseShow,
    "note": CaseNote,
    "assign": CaseAssign,
    "resolve": CaseResolve,
    "list": CaseList,
    "edit": CaseEdit,
    "hold": CaseHold,
    "release": CaseRelease,
    "report": CaseReport,
    "report-due": CaseReportDue,
}
