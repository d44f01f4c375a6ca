"""The App Home tab's sections: what a responder wants at a glance when they open the bot.

Each section is computed for the member who opened the tab, in their own zone, from the same
rota the commands read. A member unknown to the bot gets only the base view (the sections
return nothing for them). The tab is private to its viewer, yet a restricted case still shows
only its id, type and severity there, as in a channel: details stay behind `/ts case show`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from chatops.blockkit import Block, context, divider, section, user_text
from chatops.cases import access, queries
from chatops.escalation.messages import headline
from commands.context import Context
from commands.rota_view import local, mention, team_rota
from rota.coverage import affected_members, coverage_gaps, gap_local_times

MY_SHIFTS_DAYS = 7
MY_SHIFTS_MAX = 10
MY_CASES_MAX = 10
CASE_SUMMARY_MAX = 120


def my_open_cases(ctx: Context) -> list[Block]:
    """The unresolved cases assigned to the viewer or that paged them: what they still owe.

    A restricted case is listed only to those given it (`access.can_see`): a page sent by
    someone without access does not put it on the viewer's home.
    """
    if ctx.actor is None:
        return []
    viewer = ctx.actor
    with ctx.db.transaction() as session:
        cases = [
            c
            for c in queries.open_cases_for(session, team_id=ctx.team_id, slack_id=viewer.slack_id)
            if access.can_see(session, case=c, actor=viewer)
        ]
    if not cases:
        body = "No open cases assigned to you or paging you."
    else:
        body = "\n".join(
            f"*{headline(c.key, c.type, c.severity)}* — "
            + (
                ":lock: restricted"
                if c.restricted
                else f"{c.status}: {user_text(c.summary, CASE_SUMMARY_MAX)}"
            )
            for c in cases[:MY_CASES_MAX]
        )
        if len(cases) > MY_CASES_MAX:
            body += f"\n… and {len(cases) - MY_CASES_MAX} more (`/ts case list`)"
    return [
        divider(),
        section(f"*Your open cases*\n{body}"),
        context("Details: `/ts case show TS-…` (views of restricted cases are recorded)."),
    ]


def my_next_shifts(ctx: Context) -> list[Block]:
    """The viewer's next shifts (the next 7 days, at most 10), in their zone."""
    if ctx.actor is None:
        return []
    now = ctx.clock()
    shifts = team_rota(ctx).shifts(
        now, now + timedelta(days=MY_SHIFTS_DAYS), member=ctx.actor.slack_id
    )
    if not shifts:
        body = f"No shifts in the next {MY_SHIFTS_DAYS} days."
    else:
        body = "\n".join(
            f"{local(ctx, s.start)} → {local(ctx, s.end)}  *{user_text(s.rotation or 'team-wide')}*"
            + (" _(override)_" if s.source == "override" else "")
            for s in shifts[:MY_SHIFTS_MAX]
        )
        if len(shifts) > MY_SHIFTS_MAX:
            body += f"\n… and {len(shifts) - MY_SHIFTS_MAX} more (`/ts shifts`)"
    return [
        divider(),
        section(f"*Your next shifts*\n{body}"),
        context(f"Times in {ctx.actor.tz}."),
    ]


def on_call_now(ctx: Context) -> list[Block]:
    """Who holds the pager right now, per rotation."""
    if ctx.actor is None:
        return []
    shifts = team_rota(ctx).on_call(ctx.clock())
    if not shifts:
        body = ":rotating_light: Nobody is on call right now: pages go to the managers."
    else:
        body = "\n".join(
            f"*{user_text(s.rotation or 'team-wide cover')}* — {mention(s.member)} "
            f"until {local(ctx, s.end)}"
            for s in shifts
        )
    return [divider(), section(f"*On call now*\n{body}")]


def next_coverage_gap(ctx: Context) -> list[Block]:
    """The first uncovered interval in the horizon, in the viewer's and the affected zones."""
    if ctx.actor is None:
        return []
    compiled = team_rota(ctx)
    now = ctx.clock()
    gaps = coverage_gaps(compiled, now, now + timedelta(days=ctx.horizon_days))
    if not gaps:
        return [
            divider(),
            section(
                f"*Coverage*\n:white_check_mark: No uncovered minute in the next "
                f"{ctx.horizon_days} days."
            ),
        ]
    gap = gaps[0]
    need = compiled.spec.team.required
    members = affected_members(compiled, gap)
    names = {m.id: m.name for m in members}
    theirs = "\n".join(
        f"{user_text(names[member_id])}: {start} – {end}"
        for member_id, start, end in gap_local_times(gap, members)
    )
    more = f" ({len(gaps)} gaps in all; `/ts rota check`)" if len(gaps) > 1 else ""
    return [
        divider(),
        section(
            f"*Next coverage gap*{more}\n:rotating_light: {local(ctx, gap.start)} → "
            f"{local(ctx, gap.end)}: {gap.on_call} of {need} on call"
        ),
        *([context(theirs)] if theirs else []),
    ]


DEFAULT_SECTIONS: tuple[Callable[[Context], Sequence[Block]], ...] = (
    my_open_cases,
    my_next_shifts,
    on_call_now,
    next_coverage_gap,
)
