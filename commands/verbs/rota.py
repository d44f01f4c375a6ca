"""`/ts rota …`: see the rota, prove its coverage, and (managers) edit it.

Every edit is shown first as a preview — the shifts that change, in each affected member's own
zone — with Confirm / Cancel buttons, and is refused with the exact gap when it would leave a
minute uncovered in the horizon; an admin may force it, which is audited.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from pydantic import Field, ValidationError

from chatops.blockkit import (
    Block,
    Reply,
    Visibility,
    actions,
    blank,
    button,
    context,
    header,
    quote_input,
    section,
    truncate,
    user_text,
)
from chatops.oncall import edits as rota_service
from chatops.oncall.care import care_warnings, edit_warnings
from chatops.oncall.edit_kinds import parse_edit
from chatops.oncall.edits import Plan
from commands.command import Command, FreeText, SlackId, UtcDatetime
from commands.context import Context, UsageError
from commands.parsing import Token, read_options, suggest
from commands.registry import action, verb
from commands.rota_view import local, mention, read_member, shift_line, team_rota
from commands.timeparse import parse_span
from commands.verbs.rota_chart import RotaChart
from rota.coverage import coverage_gaps, describe_gap
from rota.doubles import describe_double, double_holdings
from rota.fatigue import RotaWarning
from rota.resolve import CompiledRota
from rota.spec import MemberSpec, Role
from rota.yamlio import validation_messages

USAGE = "/ts rota show|check|override|swap|add|remove|set-handoff …"
MAX_PREVIEW_LINES = 20
MAX_CHECK_DAYS = 366


class RotaCommand(Command):
    """A `/ts rota …` line; its parse picks the action, whose usage a mistake is shown with.

    Each action is a subclass naming itself (`name`, for an edit the kind of
    `chatops.oncall.edit_kinds.Edit` it proposes) and its `usage`; `SUBVERBS` lists them once
    and everything else derives.
    """

    name: ClassVar[str]
    usage: ClassVar[str]

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Command:
        if not args:
            raise UsageError("which rota action?", USAGE)
        sub, rest = args[0].lower(), args[1:]
        found = SUBVERBS.get(sub)
        if found is None:
            raise UsageError(
                f"unknown rota action `{quote_input(sub)}`{suggest(sub, list(USAGES))}", USAGE
            )
        try:
            return found.parse(rest, ctx)
        except UsageError as error:
            raise UsageError(error.reason, error.usage or USAGES[sub]) from None


class RotaShow(RotaCommand):
    name: ClassVar[str] = "show"
    usage: ClassVar[str] = "/ts rota show [chart [days:N | <from> to <to>]]"

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self | RotaChart:
        if args and args[0].lower() == "chart":
            return RotaChart.parse(args[1:], ctx)
        if args:
            raise UsageError(f"unexpected `{quote_input(' '.join(args))}`")
        return cls()

    def run(self, ctx: Context) -> Reply:
        compiled = team_rota(ctx)
        spec = compiled.spec
        now = ctx.clock()
        current = {s.rotation: s for s in compiled.on_call(now)}
        blocks = [header(f"{spec.team.name} rota")]  # plain text: Slack reads no markup there
        for r in spec.rotations:
            windows = ", ".join(
                f"{'/'.join(d.value for d in w.days)} {w.start:%H:%M}–{w.end:%H:%M}"
                for w in r.restrictions
            )
            on = current.get(r.name)
            lines = [
                f"*{user_text(r.name)}* ({user_text(r.layer)}) — {r.tz}, hands off at `{r.handoff}`"
                + (f", every {r.shift_length} handoffs" if r.shift_length > 1 else ""),
                "Order: " + ", ".join(mention(p) for p in r.participants),
                *(
                    [
                        f"(from {local(ctx, r.previous[-1].until)}; until then "
                        + ", ".join(mention(p) for p in r.previous[-1].participants)
                        + ")"
                    ]
                    if r.previous and r.previous[-1].until > now
                    else []
                ),
                f"Windows: {windows}" if windows else "Covers all day",
                f"Now: {mention(on.member)} until {local(ctx, on.end)}" if on else "Now: nobody",
            ]
            blocks.append(section("\n".join(lines)))
        upcoming = [o for o in spec.overrides if o.end > now]
        if upcoming:
            blocks.append(
                section(
                    "*Overrides*\n"
                    + "\n".join(
                        f"{mention(o.member)} on {user_text(o.rotation or 'the team')}: "
                        f"{local(ctx, o.start)} → {local(ctx, o.end)}"
                        + (f" — {user_text(o.reason, 300)}" if o.reason else "")
                        for o in upcoming[:15]
                    )
                )
            )
        blocks.append(context(f"Times in {ctx.actor.tz if ctx.actor else 'UTC'}."))
        team = user_text(spec.team.name)
        return Reply(text=f"{team} rota: {len(spec.rotations)} rotations", blocks=blocks)


class RotaCheck(RotaCommand):
    """Coverage over the next `days` days (the team's horizon unless typed)."""

    name: ClassVar[str] = "check"
    usage: ClassVar[str] = "/ts rota check [days:N]"
    days: int = Field(ge=1)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        days = ctx.horizon_days
        for arg in args:
            value = arg[5:]
            if (
                arg.lower().startswith("days:")
                and value.isascii()
                and value.isdigit()
                and 1 <= int(value) <= MAX_CHECK_DAYS
            ):
                days = int(value)
            else:
                raise UsageError(
                    f"unexpected `{quote_input(arg)}` (days:N takes 1 to {MAX_CHECK_DAYS})"
                )
        return cls(days=days)

    def run(self, ctx: Context) -> Reply:
        days = self.days
        compiled = team_rota(ctx)
        start = ctx.clock()
        end = start + timedelta(days=days)
        gaps = coverage_gaps(compiled, start, end)
        warning = _doubles_warning(compiled, start, end)
        warned = [
            *(warning.blocks if warning else []),
            *warning_blocks(care_warnings(ctx.db, ctx.team_id, compiled, start, end)),
        ]
        if not gaps:
            text = f":white_check_mark: Covered: no uncovered minute in the next {days} days."
            if not warned:
                return Reply(text=text)
            plain = text + ("\n" + warning.text if warning else "")
            return Reply(text=plain, blocks=[section(text), *warned])
        shown = [describe_gap(compiled, g) for g in gaps[:10]]
        more = f"\n… and {len(gaps) - 10} more" if len(gaps) > 10 else ""
        return Reply(
            text=f":rotating_light: {len(gaps)} coverage gap(s) in the next {days} days",
            blocks=[
                header(f"{len(gaps)} coverage gap(s) in the next {days} days"),
                section("```" + "\n".join(shown) + more + "```"),
                context("Each gap in UTC, then in each affected member's local time."),
                *warned,
            ],
        )


def _doubles_warning(compiled: CompiledRota, start: datetime, end: datetime) -> Reply | None:
    """A warning (not a gap) when one person holds two layers at once: a ladder paging level 1
    then level 2 reaches them twice and nobody else."""
    doubles = double_holdings(compiled, start, end)
    if not doubles:
        return None
    text = (
        f":warning: {len(doubles)} time(s) one person holds two layers at once, so levels "
        "paging both reach the same person"
    )
    shown = [describe_double(compiled, d) for d in doubles[:10]]
    more = f"\n… and {len(doubles) - 10} more" if len(doubles) > 10 else ""
    return Reply(
        text=text, blocks=[section(text), section("```" + "\n".join(shown) + more + "```")]
    )


MAX_WARNINGS = 8


def warning_blocks(warnings: list[RotaWarning]) -> list[Block]:
    """Care warnings (fatigue, shifts while away) as blocks: warnings, never gaps."""
    if not warnings:
        return []
    shown = "\n".join(w.describe() for w in warnings[:MAX_WARNINGS])
    more = f"\n… and {len(warnings) - MAX_WARNINGS} more" if len(warnings) > MAX_WARNINGS else ""
    return [
        section(f":zzz: *{len(warnings)} care warning(s)* (not gaps: the rota still covers)"),
        section("```" + truncate(shown + more, 2900) + "```"),
    ]


def _options(words: list[str], known: set[str]) -> tuple[dict[str, str], bool, str]:
    """`key:value` options and the `force` flag around the reason, which is kept as typed."""
    read = read_options(words, known, {"force"})
    return read.values, "force" in read.flags, read.text


class RotaEdit(RotaCommand):
    """An edit is never applied when typed: it is previewed and stored as a proposal, and
    Confirm carries only the proposal's id back to `rota_service`."""

    force: bool = False

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The proposal's JSON-able parameters, as `rota_service` reads them."""

    @abstractmethod
    def summary(self, ctx: Context) -> str:
        """One line saying what the edit does, times in the asker's zone."""

    def run(self, ctx: Context) -> Reply:
        edit = parse_edit({"kind": self.name, **self.params()})
        return _preview(ctx, edit, self.force, self.summary(ctx))


class RotaOverride(RotaEdit):
    """`member` covers from `start` to `end`: on `rotation`, or team-wide when it is None."""

    name: ClassVar[str] = "override"
    usage: ClassVar[str] = (
        "/ts rota override @member <from> to <to> [rotation:NAME] [force] [reason…]"
    )
    member: SlackId
    start: UtcDatetime
    end: UtcDatetime
    rotation: str | None = None
    reason: FreeText = ""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if not args:
            raise UsageError("who covers?")
        member, used = read_member(args, team_rota(ctx).spec, me=ctx.asker)
        start, end, rest = parse_span(args[used:], ctx, whole_days=True)
        options, force, reason = _options(rest, {"rotation"})
        return cls(
            member=member,
            start=start,
            end=end,
            rotation=options.get("rotation"),
            reason=reason,
            force=force,
        )

    def params(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rotation": self.rotation,
            "reason": self.reason,
        }

    def summary(self, ctx: Context) -> str:
        where = f"on {self.rotation}" if self.rotation else "team-wide"
        span = f"{local(ctx, self.start)} → {local(ctx, self.end)}"
        return f"{mention(self.member)} covers {where} {span}"


class RotaSwap(RotaEdit):
    """`first` and `second` exchange their shifts from `start` to `end`."""

    name: ClassVar[str] = "swap"
    usage: ClassVar[str] = "/ts rota swap @member @member <from> to <to> [force] [reason…]"
    first: SlackId
    second: SlackId
    start: UtcDatetime
    end: UtcDatetime
    reason: FreeText = ""

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if len(args) < 2:
            raise UsageError("a swap needs two members")
        spec = team_rota(ctx).spec
        first, used = read_member(args, spec, me=ctx.asker)
        if used == len(args):
            raise UsageError("a swap needs two members")
        second, more = read_member(args[used:], spec, me=ctx.asker)
        start, end, rest = parse_span(args[used + more :], ctx, whole_days=True)
        _, force, reason = _options(rest, set())
        return cls(first=first, second=second, start=start, end=end, reason=reason, force=force)

    def params(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reason": self.reason,
        }

    def summary(self, ctx: Context) -> str:
        return (
            f"{mention(self.first)} and {mention(self.second)} swap shifts "
            f"{local(ctx, self.start)} → {local(ctx, self.end)}"
        )


class RotaAdd(RotaEdit):
    """`member` joins the end of `rotation`; `new_member` when they are new to the team."""

    name: ClassVar[str] = "add"
    usage: ClassVar[str] = (
        '/ts rota add @member to <rotation> [tz:ZONE name:"Full Name" lang:en,fr]'
    )
    member: SlackId
    rotation: str
    new_member: MemberSpec | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if len(args) < 3 or "to" not in [a.lower() for a in args[1:]]:
            raise UsageError("say whom to add to which rotation")
        spec = team_rota(ctx).spec
        member, used = read_member(args, spec, me=ctx.asker)
        if len(args) < used + 2 or args[used].lower() != "to":
            raise UsageError("say whom to add to which rotation")
        options, force, extra = _options(args[used + 2 :], {"tz", "name", "lang", "role"})
        if extra:
            raise UsageError(f"unexpected `{quote_input(extra)}`")
        new_member = None
        if member not in {m.id for m in spec.members}:
            if "tz" not in options:
                raise UsageError(
                    f"{mention(member)} is new to {user_text(spec.team.name)}; give their "
                    "zone, e.g. tz:Europe/Paris"
                )
            new_member = _new_member(member, options)
        return cls(member=member, rotation=args[used + 1], new_member=new_member, force=force)

    def params(self) -> dict[str, Any]:
        new = self.new_member
        return {
            "member": self.member,
            "rotation": self.rotation,
            "new_member": new.model_dump(by_alias=True, mode="json") if new else None,
        }

    def summary(self, ctx: Context) -> str:
        new = f" (new member, {self.new_member.tz})" if self.new_member else ""
        return f"add {mention(self.member)} to the end of {self.rotation}{new}"


def _new_member(member: str, options: dict[str, str]) -> MemberSpec:
    """A newcomer as the rota file would hold them; its own rules say what is wrong."""
    if "name" in options and blank(options["name"]):  # a name that shows nothing names nobody
        raise UsageError("`name:` shows nothing; give the member's name as people know it")
    try:
        return MemberSpec(
            id=member,
            name=options.get("name", member),
            tz=options["tz"],
            languages=tuple(x for x in options.get("lang", "en").split(",") if x),
            role=Role(options.get("role", "responder")),
        )
    except ValidationError as error:
        raise UsageError("; ".join(validation_messages(error))) from None
    except ValueError as error:
        raise UsageError(str(error)) from None


class RotaRemove(RotaEdit):
    name: ClassVar[str] = "remove"
    usage: ClassVar[str] = "/ts rota remove @member from <rotation> [force]"

    member: SlackId
    rotation: str

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if len(args) < 3 or "from" not in [a.lower() for a in args[1:]]:
            raise UsageError("say whom to remove from which rotation")
        member, used = read_member(args, team_rota(ctx).spec, me=ctx.asker)
        if len(args) < used + 2 or args[used].lower() != "from":
            raise UsageError("say whom to remove from which rotation")
        _, force, extra = _options(args[used + 2 :], set())
        if extra:
            raise UsageError(f"unexpected `{quote_input(extra)}`")
        return cls(member=member, rotation=args[used + 1], force=force)

    def params(self) -> dict[str, Any]:
        return {"member": self.member, "rotation": self.rotation}

    def summary(self, ctx: Context) -> str:
        return f"remove {mention(self.member)} from {self.rotation}"


class RotaSetHandoff(RotaEdit):
    """`rotation` hands off by `cron`, in its own zone.

    The rule stays text here: the rota file's own validation judges it with the whole new rota,
    and says what is wrong in the words a manager sees when importing the file.
    """

    name: ClassVar[str] = "set-handoff"
    usage: ClassVar[str] = '/ts rota set-handoff <rotation> "<cron>" [force]'
    rotation: str
    cron: str

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if len(args) < 2:
            raise UsageError("say which rotation and its new cron rule (quoted)")
        if isinstance(args[1], Token) and args[1].unclosed:
            raise UsageError("the quote around the cron rule is never closed")
        _, force, extra = _options(args[2:], set())
        if extra:
            raise UsageError(f"unexpected `{quote_input(extra)}`; quote the cron rule")
        return cls(rotation=args[0], cron=args[1], force=force)

    def params(self) -> dict[str, Any]:
        return {"rotation": self.rotation, "cron": self.cron}

    def summary(self, ctx: Context) -> str:
        return f"{self.rotation} hands off at `{self.cron}` (in its own zone)"


SUBVERBS: dict[str, type[RotaCommand]] = {
    c.name: c
    for c in (RotaShow, RotaCheck, RotaOverride, RotaSwap, RotaAdd, RotaRemove, RotaSetHandoff)
}
USAGES = {name: command.usage for name, command in SUBVERBS.items()}

# Registered once the actions exist, so that help lists each action's usage from its class.
verb(
    "rota",
    summary="See the rota and its coverage; managers edit it (override, swap, add, remove …).",
    usage=USAGE,
    examples=(
        "/ts rota show",
        "/ts rota check days:14",
        "/ts rota override @amira tomorrow 08:00 to tomorrow 18:00 rotation:emea sick cover",
        "/ts rota swap @amira @lukas 2027-03-21 08:00 to 2027-03-22 08:00",
        "/ts rota add @mei to apac",
        "/ts rota remove @lukas from emea",
        '/ts rota set-handoff emea "0 9 * * mon"',
    ),
    details="\n".join(f"`{u}`" for u in USAGES.values())
    + "\nEdits show a preview with Confirm / Cancel; times are read in your own zone.",
    subverbs=tuple(USAGES),
)(RotaCommand)


def _preview(ctx: Context, edit: rota_service.Edit, force: bool, summary: str) -> Reply:
    assert ctx.actor is not None
    with ctx.db.transaction() as session:
        plan = rota_service.preview(
            session,
            team_id=ctx.team_id,
            edit=edit,
            force=force,
            actor=ctx.actor,
            now=ctx.clock(),
            horizon_days=ctx.horizon_days,
            contact=ctx.admin_contact,
        )
    assert plan.proposal is not None
    lines = _change_lines(plan)
    coverage = (
        f":warning: Forced: leaves {len(plan.impact.new_gaps)} gap(s); this will be audited.\n"
        + plan.gap_report
        if plan.impact.new_gaps
        else f"Coverage {_window(ctx, plan, f'over the next {ctx.horizon_days} days')} stays "
        "complete."
    )
    when = _effective_lines(ctx, plan)
    if when:
        summary = f"{summary}\n{when}"
    return Reply(
        text=f"Preview: {summary}",
        blocks=[
            header("Preview of a rota change"),
            section(summary),
            section(
                "\n".join(lines)
                if lines
                else f"No shift changes {_window(ctx, plan, 'within the horizon')}."
            ),
            context(coverage),
            *warning_blocks(
                edit_warnings(ctx.db, ctx.team_id, plan.old, plan.new, plan.start, plan.end)
            ),
            actions(
                button("Confirm", "rota_confirm", plan.proposal, style="primary"),
                button("Cancel", "rota_cancel", plan.proposal),
            ),
        ],
    )


def _window(ctx: Context, plan: Plan, horizon: str) -> str:
    """The window an edit was judged over: the horizon (in `horizon`'s words), or longer, to
    show a whole cycle of a new order."""
    if plan.end == plan.start + timedelta(days=ctx.horizon_days):
        return horizon
    return f"until {local(ctx, plan.end)}"


def _effective_lines(ctx: Context, plan: Plan) -> str:
    """When a membership edit takes over, and whose shifts before then stay as they are."""
    if plan.effective is None:
        return ""
    changed = len(plan.impact.removed)
    text = (
        f"From {local(ctx, plan.effective)} on (the start of {user_text(plan.rotation or '')}'s "
        f"next full cycle); {changed} shift{'' if changed == 1 else 's'} change. "
        "Every shift before then stays as it is."
    )
    kept = plan.kept
    if kept:
        member = kept[0].member
        text += (
            f"\n{mention(member)} keeps {len(kept)} shift{'' if len(kept) == 1 else 's'} "
            f"until then, so they stay covered; to hand them over sooner, use "
            "`/ts rota override` or `/ts rota swap`:\n"
            + "\n".join(shift_line(plan.new, s, "•") for s in kept[:MAX_PREVIEW_LINES])
        )
    return text


def _change_lines(plan: Plan) -> list[str]:
    spec = plan.new
    lines = [shift_line(spec, s, "−") for s in plan.impact.removed]
    lines += [shift_line(spec, s, "+") for s in plan.impact.added]
    if len(lines) > MAX_PREVIEW_LINES:
        hidden = len(lines) - MAX_PREVIEW_LINES
        lines = [*lines[:MAX_PREVIEW_LINES], f"… and {hidden} more changed shifts"]
    return lines


@action("rota_confirm")
def confirm(value: str, ctx: Context) -> Reply:
    """The button's value is a stored proposal's id, nothing more: the service checks it."""
    assert ctx.actor is not None
    with ctx.db.transaction() as session:
        plan = rota_service.apply(
            session,
            team_id=ctx.team_id,
            proposal_id=value,
            actor=ctx.actor,
            now=ctx.clock(),
            horizon_days=ctx.horizon_days,
            contact=ctx.admin_contact,
        )
    changed = len(plan.impact.removed) + len(plan.impact.added)
    text = (
        f":white_check_mark: Rota updated by {mention(ctx.actor.slack_id)}: {plan.kind} "
        f"({changed} shift changes {_window(ctx, plan, f'in the next {ctx.horizon_days} days')})"
    )
    when = _effective_lines(ctx, plan)
    if when:
        text += "\n" + when
    if plan.impact.new_gaps:
        # Forced by an admin: the channel must see what is now uncovered, not just that it was.
        text += (
            f"\n:warning: Forced: it leaves {len(plan.impact.new_gaps)} coverage gap(s):\n"
            + plan.gap_report
        )
    lines = _change_lines(plan)
    blocks = [section(text), *([section("\n".join(lines))] if lines else [])]
    announcement = Reply(text=text, blocks=blocks, visibility=Visibility.in_channel)
    return Reply(text=":white_check_mark: Done: the rota is updated.", posts=[announcement])


@action("rota_cancel")
def cancel(value: str, ctx: Context) -> Reply:
    """Withdraw the proposal so its Confirm can no longer apply it."""
    assert ctx.actor is not None
    with ctx.db.transaction() as session:
        rota_service.cancel(
            session, team_id=ctx.team_id, proposal_id=value, actor=ctx.actor, now=ctx.clock()
        )
    return Reply(text="Cancelled: the rota is unchanged.")
