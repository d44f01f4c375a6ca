"""`/ts rota …`: see the rota, prove its coverage, and (managers) edit it.

Every edit is shown first as a preview — the shifts that change, in each affected member's own
zone — with Confirm / Cancel buttons, and is refused with the exact gap when it would leave a
minute uncovered in the horizon; an admin may force it, which is audited.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError

from chatops import rota_service
from chatops.rota_service import Plan, Proposal
from commands.blocks import actions, button, context, header, section
from commands.context import Context, UsageError
from commands.parsing import mention_id, refuse_near_option, suggest
from commands.registry import action, verb
from commands.reply import Reply, Visibility
from commands.rota_view import local, mention, resolve_member, shift_line, team_rota
from commands.timeparse import parse_span
from rota.coverage import coverage_gaps, describe_gap
from rota.spec import MemberSpec, Role
from rota.yamlio import validation_messages

USAGES = {
    "show": "/ts rota show",
    "check": "/ts rota check [days:N]",
    "override": "/ts rota override @member <from> to <to> [rotation:NAME] [force] [reason…]",
    "swap": "/ts rota swap @member @member <from> to <to> [force] [reason…]",
    "add": '/ts rota add @member to <rotation> [tz:ZONE name:"Full Name" lang:en,fr]',
    "remove": "/ts rota remove @member from <rotation> [force]",
    "set-handoff": '/ts rota set-handoff <rotation> "<cron>" [force]',
}
USAGE = "/ts rota show|check|override|swap|add|remove|set-handoff …"
MAX_PREVIEW_LINES = 20


@verb(
    "rota",
    summary="See the rota and its coverage; managers edit it (override, swap, add, remove …).",
    usage=USAGE,
    examples=(
        "/ts rota show",
        "/ts rota check days:14",
        "/ts rota override @amira tomorrow 08:00 to tomorrow 18:00 rotation:emea sick cover",
        "/ts rota swap @amira @lukas 2027-03-21 08:00 to 2027-03-22 08:00",
        "/ts rota add @priya to apac",
        "/ts rota remove @lukas from emea",
        '/ts rota set-handoff emea "0 9 * * mon"',
    ),
    details="\n".join(f"`{u}`" for u in USAGES.values())
    + "\nEdits show a preview with Confirm / Cancel; times are read in your own zone.",
    subverbs=tuple(USAGES),
)
def rota(args: list[str], ctx: Context) -> Reply:
    if not args:
        raise UsageError("which rota action?", USAGE)
    sub, rest = args[0].lower(), args[1:]
    handler = _SUBVERBS.get(sub)
    if handler is None:
        raise UsageError(f"unknown rota action `{sub}`{suggest(sub, list(USAGES))}", USAGE)
    try:
        return handler(rest, ctx)
    except UsageError as error:
        raise UsageError(error.reason, error.usage or USAGES[sub]) from None


def _show(args: list[str], ctx: Context) -> Reply:
    if args:
        raise UsageError(f"unexpected `{' '.join(args)}`")
    compiled = team_rota(ctx)
    spec = compiled.spec
    now = ctx.clock()
    current = {s.rotation: s for s in compiled.on_call(now)}
    blocks = [header(f"{spec.team.name} rota")]
    for r in spec.rotations:
        windows = ", ".join(
            f"{'/'.join(d.value for d in w.days)} {w.start:%H:%M}–{w.end:%H:%M}"
            for w in r.restrictions
        )
        on = current.get(r.name)
        lines = [
            f"*{r.name}* ({r.layer}) — {r.tz}, hands off at `{r.handoff}`"
            + (f", every {r.shift_length} handoffs" if r.shift_length > 1 else ""),
            "Order: " + ", ".join(mention(p) for p in r.participants),
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
                    f"{mention(o.member)} on {o.rotation or 'the team'}: "
                    f"{local(ctx, o.start)} → {local(ctx, o.end)}"
                    + (f" — {o.reason}" if o.reason else "")
                    for o in upcoming[:15]
                )
            )
        )
    blocks.append(context(f"Times in {ctx.actor.tz if ctx.actor else 'UTC'}."))
    return Reply(text=f"{spec.team.name} rota: {len(spec.rotations)} rotations", blocks=blocks)


def _check(args: list[str], ctx: Context) -> Reply:
    days = ctx.horizon_days
    for arg in args:
        if arg.lower().startswith("days:") and arg[5:].isdigit() and 1 <= int(arg[5:]) <= 366:
            days = int(arg[5:])
        else:
            raise UsageError(f"unexpected `{arg}` (days:N takes 1 to 366)")
    compiled = team_rota(ctx)
    start = ctx.clock()
    gaps = coverage_gaps(compiled, start, start + timedelta(days=days))
    if not gaps:
        return Reply(
            text=f":white_check_mark: Covered: no uncovered minute in the next {days} days.",
        )
    shown = [describe_gap(compiled, g) for g in gaps[:10]]
    more = f"\n… and {len(gaps) - 10} more" if len(gaps) > 10 else ""
    return Reply(
        text=f":rotating_light: {len(gaps)} coverage gap(s) in the next {days} days",
        blocks=[
            header(f"{len(gaps)} coverage gap(s) in the next {days} days"),
            section("```" + "\n".join(shown) + more + "```"),
            context("Each gap in UTC, then in each affected member's local time."),
        ],
    )


def _options(words: list[str], known: set[str]) -> tuple[dict[str, str], bool, str]:
    """Split `key:value` options and the `force` flag from the free-text reason."""
    options: dict[str, str] = {}
    force = False
    reason: list[str] = []
    for word in words:
        key, sep, value = word.partition(":")
        if sep and key.lower() in known:
            options[key.lower()] = value
        elif word.lower() == "force":
            force = True
        else:
            refuse_near_option(word, known | {"force"})
            reason.append(word)
    return options, force, " ".join(reason)


def _override(args: list[str], ctx: Context) -> Reply:
    assert ctx.actor is not None
    if not args:
        raise UsageError("who covers?")
    spec = team_rota(ctx).spec
    member = resolve_member(args[0], spec)
    start, end, rest = parse_span(args[1:], ctx)
    options, force, reason = _options(rest, {"rotation"})
    params = {
        "member": member,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "rotation": options.get("rotation"),
        "reason": reason,
    }
    where = f"on {options['rotation']}" if options.get("rotation") else "team-wide"
    summary = f"{mention(member)} covers {where} {local(ctx, start)} → {local(ctx, end)}"
    return _preview(ctx, Proposal("override", params, ctx.actor.slack_id, force=force), summary)


def _swap(args: list[str], ctx: Context) -> Reply:
    assert ctx.actor is not None
    if len(args) < 2:
        raise UsageError("a swap needs two members")
    spec = team_rota(ctx).spec
    first, second = resolve_member(args[0], spec), resolve_member(args[1], spec)
    start, end, rest = parse_span(args[2:], ctx)
    _, force, reason = _options(rest, set())
    params = {
        "first": first,
        "second": second,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "reason": reason,
    }
    summary = (
        f"{mention(first)} and {mention(second)} swap shifts "
        f"{local(ctx, start)} → {local(ctx, end)}"
    )
    return _preview(ctx, Proposal("swap", params, ctx.actor.slack_id, force=force), summary)


def _add(args: list[str], ctx: Context) -> Reply:
    assert ctx.actor is not None
    if len(args) < 3 or args[1].lower() != "to":
        raise UsageError("say whom to add to which rotation")
    spec = team_rota(ctx).spec
    options, force, extra = _options(args[3:], {"tz", "name", "lang", "role"})
    if extra:
        raise UsageError(f"unexpected `{extra}`")
    new_member = None
    member = mention_id(args[0]) or resolve_member(args[0], spec)
    if member not in {m.id for m in spec.members}:
        if "tz" not in options:
            raise UsageError(
                f"{mention(member)} is new to {spec.team.name}; give their zone, e.g. "
                "tz:Europe/Paris"
            )
        try:
            new_member = MemberSpec(
                id=member,
                name=options.get("name", member),
                tz=options["tz"],
                languages=tuple(x for x in options.get("lang", "en").split(",") if x),
                role=Role(options.get("role", "responder")),
            )
        except (ValidationError, ValueError) as error:
            reason = (
                "; ".join(validation_messages(error))
                if isinstance(error, ValidationError)
                else str(error)
            )
            raise UsageError(reason) from None
    params = {
        "member": member,
        "rotation": args[2],
        "new_member": new_member.model_dump(by_alias=True, mode="json") if new_member else None,
    }
    summary = f"add {mention(member)} to the end of {args[2]}" + (
        f" (new member, {new_member.tz})" if new_member else ""
    )
    return _preview(ctx, Proposal("add", params, ctx.actor.slack_id, force=force), summary)


def _remove(args: list[str], ctx: Context) -> Reply:
    assert ctx.actor is not None
    if len(args) < 3 or args[1].lower() != "from":
        raise UsageError("say whom to remove from which rotation")
    spec = team_rota(ctx).spec
    member = resolve_member(args[0], spec)
    _, force, extra = _options(args[3:], set())
    if extra:
        raise UsageError(f"unexpected `{extra}`")
    params = {"member": member, "rotation": args[2]}
    summary = f"remove {mention(member)} from {args[2]}"
    return _preview(ctx, Proposal("remove", params, ctx.actor.slack_id, force=force), summary)


def _set_handoff(args: list[str], ctx: Context) -> Reply:
    assert ctx.actor is not None
    if len(args) < 2:
        raise UsageError("say which rotation and its new cron rule (quoted)")
    _, force, extra = _options(args[2:], set())
    if extra:
        raise UsageError(f"unexpected `{extra}`; quote the cron rule")
    params = {"rotation": args[0], "cron": args[1]}
    summary = f"{args[0]} hands off at `{args[1]}` (in its own zone)"
    return _preview(ctx, Proposal("set-handoff", params, ctx.actor.slack_id, force=force), summary)


def _preview(ctx: Context, proposal: Proposal, summary: str) -> Reply:
    assert ctx.actor is not None
    plan = rota_service.preview(
        ctx.db,
        team_id=ctx.team_id,
        proposal=proposal,
        actor=ctx.actor,
        now=ctx.clock(),
        horizon_days=ctx.horizon_days,
        contact=ctx.admin_contact,
    )
    proposal = plan.proposal
    lines = _change_lines(plan)
    coverage = (
        f":warning: Forced: leaves {len(plan.impact.new_gaps)} gap(s); this will be audited.\n"
        + plan.gap_report
        if plan.impact.new_gaps
        else f"Coverage over the next {ctx.horizon_days} days stays complete."
    )
    return Reply(
        text=f"Preview: {summary}",
        blocks=[
            header("Preview of a rota change"),
            section(summary),
            section("\n".join(lines) if lines else "No shift changes within the horizon."),
            context(coverage),
            actions(
                button("Confirm", "rota_confirm", proposal.to_json(), style="primary"),
                button("Cancel", "rota_cancel", proposal.to_json()),
            ),
        ],
    )


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
    assert ctx.actor is not None
    proposal = Proposal.from_json(value)
    plan = rota_service.apply(
        ctx.db,
        team_id=ctx.team_id,
        proposal=proposal,
        actor=ctx.actor,
        now=ctx.clock(),
        horizon_days=ctx.horizon_days,
        contact=ctx.admin_contact,
    )
    changed = len(plan.impact.removed) + len(plan.impact.added)
    text = (
        f":white_check_mark: Rota updated by {mention(ctx.actor.slack_id)}: {proposal.kind} "
        f"({changed} shift changes in the next {ctx.horizon_days} days)"
    )
    lines = _change_lines(plan)
    blocks = [section(text), *([section("\n".join(lines))] if lines else [])]
    announcement = Reply(text=text, blocks=blocks, visibility=Visibility.in_channel)
    return Reply(text=":white_check_mark: Done: the rota is updated.", posts=[announcement])


@action("rota_cancel")
def cancel(value: str, ctx: Context) -> Reply:
    return Reply(text="Cancelled: the rota is unchanged.")


_SUBVERBS = {
    "show": _show,
    "check": _check,
    "override": _override,
    "swap": _swap,
    "add": _add,
    "remove": _remove,
    "set-handoff": _set_handoff,
}
