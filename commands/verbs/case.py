"""`/ts case open|show|note|assign|resolve|list|hold|release`: the life of a Trust & Safety case.

Parsing and rendering only; every rule (permissions, restricted text, audit) lives in
`chatops.cases.service`, so Slack, the console and tests get the same answers.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, Field

from chatops.blockkit import Reply, context, fields, header, section
from chatops.cases import retention, service
from chatops.cases.ids import KEY_PATTERN
from chatops.cases.ladder import Paging
from chatops.cases.models import SEVERITY_MEANING, CaseType, Severity
from chatops.escalation.messages import TAKE_ACTION, headline
from commands import forms
from commands.command import Command, SlackId
from commands.context import Context, Refused, UsageError
from commands.parsing import refuse_near_option, suggest
from commands.registry import action, form, verb
from commands.rota_view import local, mention, resolve_member, team_rota

OPEN_USAGE = '/ts case open <type> <sev1-4> <summary…> [lang:xx] [details:"…"]'
USAGE = "/ts case open|show|note|assign|resolve|list|hold|release …"
SUBVERB_USAGE = {
    "open": OPEN_USAGE,
    "show": "/ts case show TS-YYYY-NNNN",
    "note": "/ts case note TS-YYYY-NNNN <text…>",
    "assign": "/ts case assign TS-YYYY-NNNN @member",
    "resolve": "/ts case resolve TS-YYYY-NNNN [reason…]",
    "list": "/ts case list",
    "hold": "/ts case hold TS-YYYY-NNNN <reason…>",
    "release": "/ts case release TS-YYYY-NNNN",
}
TYPES = ", ".join(t.value for t in CaseType)
SEVERITIES = "\n".join(f"`{s.value}` — {SEVERITY_MEANING[s]}" for s in Severity)
OPEN_OPTIONS = frozenset({"lang", "details", "restricted"})


def _not_a_key(word: str) -> str:
    # The service's own words for this, so a typed line and a button answer alike.
    return f"'{word}' is not a case id (they look like TS-2027-0042)"


def _case_key(value: str) -> str:
    if not KEY_PATTERN.match(value.strip()):
        raise ValueError(_not_a_key(value))
    return value


CaseKey = Annotated[str, AfterValidator(_case_key)]
"""A case id as typed (`TS-2027-0042`, `ts-2027-42`); the service finds its canonical form."""


def _language(code: str) -> str:
    if not forms.valid_language(code):
        raise ValueError(f"`lang:{code}` is not a language code like ar or pt-BR")
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


def member_arg(ctx: Context, token: str) -> str:
    """A mention or @name as a Slack id (a mention of an outsider is refused by the service)."""
    return resolve_member(
        token if token.startswith(("<", "@")) else "@" + token, team_rota(ctx).spec
    )


def paging_line(paging: Paging, ctx: Context) -> str:
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
    if paging.next_due is not None:
        line += f" Next level at {local(ctx, paging.next_due)} unless acknowledged."
    return line


@verb(
    "case",
    summary="Open a case (pages the on-call at once), or show, note, assign, resolve one.",
    usage=USAGE,
    examples=(
        "/ts case open threat-of-violence sev1 Threat against a meetup on the talk page lang:ar",
        "/ts case show TS-2027-0042",
        "/ts case note TS-2027-0042 Police contacted, reference 1234",
        "/ts case assign TS-2027-0042 @amira",
        "/ts case resolve TS-2027-0042 handed to law enforcement",
        "/ts case hold TS-2027-0042 preservation request 2027-114",
    ),
    details=f"Types: {TYPES}.\nSeverities:\n{SEVERITIES}\n"
    "child-safety and self-harm cases are restricted: channels see only id, type and severity.\n"
    "Resolved cases are deleted after their retention; managers can `hold` one to keep it.",
    subverbs=tuple(SUBVERB_USAGE),
)
class CaseCommand(Command):
    """A `/ts case …` line; its parse picks the sub-verb, whose model does the work."""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> CaseCommand:
        if not args:
            raise UsageError(
                "say what to do: open, show, note, assign, resolve, list, hold or release", USAGE
            )
        name = args[0].lower()
        sub = SUBVERBS.get(name)
        if sub is None:
            raise UsageError(
                f"unknown case action `{args[0]}`{suggest(name, list(SUBVERBS))}", USAGE
            )
        return sub.parse(args[1:], ctx)


class CaseOpen(CaseCommand):
    """A new case; `restricted` None leaves it to the type (child-safety, self-harm: yes)."""

    case_type: CaseType
    severity: Severity
    summary: str = Field(repr=False)  # restricted text: never in a log line
    details: str = Field(default="", repr=False)
    language: Language | None = None
    restricted: bool | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        options: dict[str, str] = {}
        words: list[str] = []
        for word in args:
            name, sep, value = word.partition(":")
            if sep and name.lower() in OPEN_OPTIONS:
                options[name.lower()] = value
            else:
                refuse_near_option(word, OPEN_OPTIONS)
                words.append(word)
        if not args:
            raise UsageError(
                "a case needs a type, a severity and a summary (in Slack, `/ts case open` alone "
                "opens a form)",
                OPEN_USAGE,
            )
        if len(words) < 3:
            raise UsageError("a case needs a type, a severity and a summary", OPEN_USAGE)
        kind, severity = words[0].lower(), words[1].lower()
        types = [t.value for t in CaseType]
        if kind not in types:
            raise UsageError(
                f"unknown case type `{words[0]}`{suggest(kind, types)}; valid types: {TYPES}",
                OPEN_USAGE,
            )
        if severity not in {s.value for s in Severity}:
            valid = ", ".join(s.value for s in Severity)
            raise UsageError(
                f"unknown severity `{words[1]}`; valid severities: {valid}", OPEN_USAGE
            )
        restricted = None
        if "restricted" in options:
            flag = options["restricted"].lower()
            if flag not in {"yes", "no"}:
                raise UsageError("restricted: takes yes or no", OPEN_USAGE)
            restricted = flag == "yes"
        language = options.get("lang") or None
        if language is not None and not forms.valid_language(language):
            raise UsageError(
                f"`lang:{language}` is not a language code like ar or pt-BR", OPEN_USAGE
            )
        return cls(
            case_type=CaseType(kind),
            severity=Severity(severity),
            summary=" ".join(words[2:]),
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
            case, paging = service.open_case(
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
            )
        title = headline(case.key, case.type, case.severity)
        restricted_note = (
            " Restricted: the channel sees only its id, type and severity."
            if case.restricted
            else ""
        )
        text = f":white_check_mark: Opened *{title}*. {paging_line(paging, ctx)}{restricted_note}"
        return Reply(text=text)


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

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        word = case_word(args, SUBVERB_USAGE["show"])
        if len(args) > 1:
            raise UsageError("show takes only the case id", SUBVERB_USAGE["show"])
        return cls(key=known_key(word))

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            view = service.show(
                session, team_id=ctx.team_id, actor=ctx.actor, key=self.key, at=ctx.clock()
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
        delivered = sum(p.state == "delivered" for p in view.pages)
        pairs.append(("Pages", f"{delivered} delivered of {len(view.pages)}"))
        blocks = [header(headline(case.key, case.type, case.severity)), fields(pairs)]
        lines = [headline(case.key, case.type, case.severity), f"status {case.status}"]
        if view.details_visible:
            blocks.append(section(f"*Summary*\n{case.summary}"))
            lines.append(case.summary)
            if case.details:
                blocks.append(section(f"*Details*\n{case.details}"))
                lines.append(case.details)
            if case.restricted:
                blocks.append(
                    context(":lock: Restricted case: this view is recorded in the audit log.")
                )
        else:
            blocks.append(
                section(":lock: Restricted case: only the people it was given to see it.")
            )
        timeline = [
            f"{local(ctx, e.at)} {e.kind}"
            + (f" by {mention(e.actor)}" if e.actor != "system" else "")
            + (f": {e.text}" if e.text and view.details_visible else "")
            for e in view.timeline[-15:]
        ]
        blocks.append(section("*Timeline*\n" + "\n".join(timeline)))
        return Reply(text="\n".join(lines), blocks=blocks)


class CaseNote(CaseCommand):
    key: CaseKey
    text: str = Field(repr=False)  # restricted text: never in a log line

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        usage = SUBVERB_USAGE["note"]
        word = case_word(args, usage)
        if len(args) < 2:
            raise UsageError("the note is empty", usage)
        return cls(key=known_key(word), text=" ".join(args[1:]))

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
        if len(args) != 2:
            raise UsageError("name one member to assign the case to", usage)
        assignee = member_arg(ctx, args[1])
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
    reason: str = Field(default="", repr=False)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        word = case_word(args, SUBVERB_USAGE["resolve"])
        return cls(key=known_key(word), reason=" ".join(args[1:]))

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


class CaseList(CaseCommand):
    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if args:
            raise UsageError("list takes no arguments", SUBVERB_USAGE["list"])
        return cls()

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            cases = service.open_cases(session, team_id=ctx.team_id)
        if not cases:
            return Reply(text="No open cases.")
        rows = [
            f"*{headline(c.key, c.type, c.severity)}* — {c.status}"
            + (f", {mention(c.assignee)}" if c.assignee else "")
            for c in cases
        ]
        return Reply(text="\n".join(rows))


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


SUBVERBS: dict[str, type[CaseCommand]] = {
    "open": CaseOpen,
    "show": CaseShow,
    "note": CaseNote,
    "assign": CaseAssign,
    "resolve": CaseResolve,
    "list": CaseList,
    "hold": CaseHold,
    "release": CaseRelease,
}
