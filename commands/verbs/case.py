"""`/ts case open|show|note|assign|resolve|list`: the life of a Trust & Safety case.

Parsing and rendering only; every rule (permissions, restricted text, audit) lives in
`chatops.cases.service`, so Slack, the console and tests get the same answers.
"""

from __future__ import annotations

from collections.abc import Callable

from chatops.cases import service
from chatops.cases.models import SEVERITY_MEANING, CaseType, Severity
from chatops.escalation.ladder import Paging
from chatops.escalation.messages import TAKE_ACTION, headline
from commands import forms
from commands.blocks import context, fields, header, section
from commands.context import Context, UsageError
from commands.parsing import refuse_near_option, suggest
from commands.registry import action, form, verb
from commands.reply import Reply
from commands.rota_view import local, mention, resolve_member, team_rota

OPEN_USAGE = '/ts case open <type> <sev1-4> <summary…> [lang:xx] [details:"…"]'
USAGE = "/ts case open|show|note|assign|resolve|list …"
SUBVERB_USAGE = {
    "open": OPEN_USAGE,
    "show": "/ts case show TS-YYYY-NNNN",
    "note": "/ts case note TS-YYYY-NNNN <text…>",
    "assign": "/ts case assign TS-YYYY-NNNN @member",
    "resolve": "/ts case resolve TS-YYYY-NNNN [reason…]",
    "list": "/ts case list",
}
TYPES = ", ".join(t.value for t in CaseType)
SEVERITIES = "\n".join(f"`{s.value}` — {SEVERITY_MEANING[s]}" for s in Severity)


def case_key(args: list[str], usage: str) -> str:
    """The first word must be a case id."""
    if not args:
        raise UsageError("name the case, e.g. TS-2027-0042", usage)
    return args[0]


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


OPEN_OPTIONS = frozenset({"lang", "details", "restricted"})


def _open(args: list[str], ctx: Context) -> Reply:
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
    kind, severity, summary = words[0].lower(), words[1].lower(), " ".join(words[2:])
    if kind not in {t.value for t in CaseType}:
        raise UsageError(
            f"unknown case type `{words[0]}`{suggest(kind, [t.value for t in CaseType])}; "
            f"valid types: {TYPES}",
            OPEN_USAGE,
        )
    if severity not in {s.value for s in Severity}:
        valid = ", ".join(s.value for s in Severity)
        raise UsageError(f"unknown severity `{words[1]}`; valid severities: {valid}", OPEN_USAGE)
    restricted = None
    if "restricted" in options:
        flag = options["restricted"].lower()
        if flag not in {"yes", "no"}:
            raise UsageError("restricted: takes yes or no", OPEN_USAGE)
        restricted = flag == "yes"
    language = options.get("lang") or None
    if language is not None and not forms.valid_language(language):
        raise UsageError(f"`lang:{language}` is not a language code like ar or pt-BR", OPEN_USAGE)
    return open_case_reply(
        ctx,
        case_type=kind,
        severity=severity,
        summary=summary,
        details=options.get("details", ""),
        language=language,
        restricted=restricted,
    )


def open_case_reply(
    ctx: Context,
    *,
    case_type: str,
    severity: str,
    summary: str,
    details: str = "",
    language: str | None = None,
    restricted: bool | None = None,
) -> Reply:
    """Open a case and say whom it paged: the one path for the typed command and the form."""
    with ctx.db.transaction() as session:
        case, paging = service.open_case(
            session,
            team_id=ctx.team_id,
            actor=ctx.actor,
            at=ctx.clock(),
            case_type=case_type,
            severity=severity,
            summary=summary,
            details=details,
            language=language,
            restricted=restricted,
        )
    title = headline(case.key, case.type, case.severity)
    restricted_note = (
        " Restricted: the channel sees only its id, type and severity." if case.restricted else ""
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
    return open_case_reply(
        ctx,
        case_type=submitted.case_type,
        severity=submitted.severity,
        summary=submitted.summary,
        details=submitted.details,
        language=submitted.language,
        restricted=submitted.restricted,
    )


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


def _show(args: list[str], ctx: Context) -> Reply:
    key = case_key(args, SUBVERB_USAGE["show"])
    if len(args) > 1:
        raise UsageError("show takes only the case id", SUBVERB_USAGE["show"])
    with ctx.db.transaction() as session:
        view = service.show(session, team_id=ctx.team_id, actor=ctx.actor, key=key, at=ctx.clock())
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
        blocks.append(section(":lock: Restricted case: only the people it was given to see it."))
    timeline = [
        f"{local(ctx, e.at)} {e.kind}"
        + (f" by {mention(e.actor)}" if e.actor != "system" else "")
        + (f": {e.text}" if e.text and view.details_visible else "")
        for e in view.timeline[-15:]
    ]
    blocks.append(section("*Timeline*\n" + "\n".join(timeline)))
    return Reply(text="\n".join(lines), blocks=blocks)


def _note(args: list[str], ctx: Context) -> Reply:
    usage = SUBVERB_USAGE["note"]
    key = case_key(args, usage)
    if len(args) < 2:
        raise UsageError("the note is empty", usage)
    with ctx.db.transaction() as session:
        service.add_note(
            session,
            team_id=ctx.team_id,
            actor=ctx.actor,
            key=key,
            at=ctx.clock(),
            text=" ".join(args[1:]),
        )
    return Reply(text=f":memo: Note added to {key.upper()}.")


def _assign(args: list[str], ctx: Context) -> Reply:
    usage = SUBVERB_USAGE["assign"]
    key = case_key(args, usage)
    if len(args) != 2:
        raise UsageError("name one member to assign the case to", usage)
    who = member_arg(ctx, args[1])
    with ctx.db.transaction() as session:
        case = service.reassign(
            session, team_id=ctx.team_id, actor=ctx.actor, key=key, at=ctx.clock(), assignee=who
        )
    text = f":bust_in_silhouette: {case.key} is now assigned to {mention(who)}."
    return Reply(text=text, posts=[Reply(text=text)])


def _resolve(args: list[str], ctx: Context) -> Reply:
    key = case_key(args, SUBVERB_USAGE["resolve"])
    with ctx.db.transaction() as session:
        case = service.resolve(
            session,
            team_id=ctx.team_id,
            actor=ctx.actor,
            key=key,
            at=ctx.clock(),
            reason=" ".join(args[1:]),
        )
    actor = mention(ctx.actor.slack_id) if ctx.actor else "someone"
    post = Reply(
        text=f":white_check_mark: {headline(case.key, case.type, case.severity)} "
        f"resolved by {actor}."
    )
    return Reply(
        text=f":white_check_mark: {case.key} is resolved; its timers are cancelled.", posts=[post]
    )


def _list(args: list[str], ctx: Context) -> Reply:
    if args:
        raise UsageError("list takes no arguments", SUBVERB_USAGE["list"])
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


SUBVERBS: dict[str, Callable[[list[str], Context], Reply]] = {
    "open": _open,
    "show": _show,
    "note": _note,
    "assign": _assign,
    "resolve": _resolve,
    "list": _list,
}


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
    ),
    details=f"Types: {TYPES}.\nSeverities:\n{SEVERITIES}\n"
    "child-safety and self-harm cases are restricted: channels see only id, type and severity.",
    subverbs=tuple(SUBVERBS),
)
def case_verb(args: list[str], ctx: Context) -> Reply:
    if not args:
        raise UsageError("say what to do: open, show, note, assign, resolve or list", USAGE)
    name = args[0].lower()
    handler = SUBVERBS.get(name)
    if handler is None:
        raise UsageError(f"unknown case action `{args[0]}`{suggest(name, list(SUBVERBS))}", USAGE)
    return handler(args[1:], ctx)
