"""`/ts report week|month|<from> to <to>`: the team's own rhythm, in figures and in charts.

Any member may ask: cases by type and severity, time to acknowledge and to resolve (p50/p90),
and on-call hours per member with their local nights and weekends. Managers see one section
more, exposure hours, once the exposure budget computes them. The answer is only the asker's
(ephemeral), and its charts are delivered to the asker alone (in Slack, to their DM). Cases are
counted, never quoted: restricted ones add to the counts like any other (invariant 6).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from chatops.blockkit import (
    Block,
    Reply,
    context,
    fields,
    header,
    quote_input,
    section,
    user_text,
)
from chatops.errors import Refused
from chatops.reports.figures import TeamReport, check_window, team_report
from chatops.reports.render import duration
from commands.command import Command, UtcDatetime
from commands.context import Context, UsageError
from commands.parsing import suggest
from commands.registry import verb
from commands.rota_view import local
from commands.timeparse import parse_span

USAGE = "/ts report week|month|<from> to <to>"
#: The named windows: the last 7 or 30 days up to now.
PERIODS = {"week": timedelta(days=7), "month": timedelta(days=30)}
_FILLERS = frozenset({"last", "past", "this"})


@verb(
    "report",
    summary="The team report: cases, response times and on-call hours, with charts.",
    usage=USAGE,
    examples=("/ts report week", "/ts report month", "/ts report 2027-03-01 to 2027-03-31"),
    details=(
        "Cases opened by type and severity (restricted ones counted, never shown), time to "
        "acknowledge and to resolve (p50/p90), and each member's on-call hours with their local "
        "nights (23:00–06:00) and weekends. `week` and `month` are the last 7 and 30 days; a "
        "window is read in your zone, includes an end given as a day, and covers a year at "
        "most. The charts are sent to you alone. Managers also see exposure hours, once they "
        "are recorded."
    ),
)
class ReportCommand(Command):
    """The team report of [start, end); `label` names the window for the asker."""

    start: UtcDatetime
    end: UtcDatetime
    label: str

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if not args:
            raise UsageError("which period: week, month, or `<from> to <to>`?")
        now = ctx.clock()
        if len(args) >= 2 and args[0].lower() in _FILLERS and args[1].lower() in PERIODS:
            args = args[1:]  # `last week`, `past month`: the rolling window the label names
        word = args[0].lower()
        if word in PERIODS:
            if len(args) > 1:
                raise UsageError(f"unexpected `{quote_input(' '.join(args[1:]))}`")
            start, days = now - PERIODS[word], PERIODS[word].days
            label = f"the last {days} days ({local(ctx, start)} to {local(ctx, now)})"
            return cls(start=start, end=now, label=label)
        if "to" not in [a.lower() for a in args]:
            raise UsageError(f"unknown period `{quote_input(word)}`{suggest(word, list(PERIODS))}")
        # An end given as a day includes that day, as `chatops report --to` and `/ts away` do.
        start, end, rest = parse_span(args, ctx, whole_days=True, past=True)
        if rest:
            raise UsageError(f"unexpected `{quote_input(' '.join(rest))}`")
        if end == start:
            raise UsageError("that window is empty: it ends when it starts")
        try:
            check_window(start, end)
        except Refused as refused:
            raise UsageError(refused.reason) from None
        return cls(start=start, end=end, label=f"{local(ctx, start)} up to {local(ctx, end)}")

    def run(self, ctx: Context) -> Reply:
        assert ctx.actor is not None  # members only (the registry checks)
        with ctx.db.transaction() as session:
            report = team_report(
                session, team_id=ctx.team_id, start=self.start, end=self.end, now=ctx.clock()
            )
        manager = ctx.actor.is_manager
        # matplotlib loads in about a second: only when a report is asked for.
        from chatops.reports.charts import report_charts

        charts = report_charts(report, exposure=manager)
        blocks = report_blocks(report, self.label, exposure=manager)
        blocks.append(
            context(
                f"{len(charts)} chart(s) sent to you alone. Percentiles are nearest-rank over "
                "the cases opened in the window; nights and weekends are each member's own."
            )
        )
        text = (
            f"{user_text(report.team)} report, {self.label}: {report.cases.total} case(s), "
            f"{len(report.on_call)} member(s)"
        )
        return Reply(text=text, blocks=blocks, files=charts)


def _hours_table(report: TeamReport) -> str:
    rows = [f"{'member':<22} {'hours':>7} {'night':>7} {'weekend':>8}"]
    rows += [
        f"{user_text(m.name, 22):<22} {m.hours:>7.1f} {m.night:>7.1f} {m.weekend:>8.1f}"
        for m in report.on_call
    ]
    return "```" + "\n".join(rows) + "```"


def report_blocks(report: TeamReport, label: str, *, exposure: bool) -> list[Block]:
    """The report as Block Kit: counts, durations and hours only."""
    c = report.cases
    types = [
        (t, ", ".join(f"{s} {n}" for s, n in row.items() if n))
        for t, row in c.by_type.items()
        if sum(row.values())
    ]
    severities = ", ".join(f"{s} {c.severity_total(s)}" for s in next(iter(c.by_type.values())))
    blocks: list[Block] = [
        header(f"{report.team} report"),
        section(
            f"*{label}*\n*{c.total}* case(s) opened ({c.restricted} restricted: counted only); "
            f"{severities}."
        ),
    ]
    if types:
        blocks.append(
            fields([(t, f"{sum(c.by_type[t].values())}: {detail}") for t, detail in types])
        )
    blocks.append(
        fields(
            [
                (
                    "Time to acknowledge",
                    f"p50 {duration(c.acknowledge.p50)} · p90 {duration(c.acknowledge.p90)}\n"
                    f"{c.acknowledge.count} acknowledged, {c.unacknowledged} never",
                ),
                (
                    "Time to resolve",
                    f"p50 {duration(c.resolve.p50)} · p90 {duration(c.resolve.p90)}\n"
                    f"{c.resolve.count} resolved, {c.unresolved} still open",
                ),
            ]
        )
    )
    blocks.append(section("*On-call hours* (local nights 23:00–06:00, local weekends)"))
    blocks.append(section(_hours_table(report)))
    if exposure and report.exposure_hours is not None:
        names = {m.member: m.name for m in report.on_call}
        lines = [
            f"{user_text(names.get(k, k))}: {v:.1f} h"
            for k, v in sorted(report.exposure_hours.items(), key=lambda kv: -kv[1])
        ] or ["nobody held a graphic case in this window"]
        blocks.append(section("*Exposure hours* (managers only)\n" + "\n".join(lines)))
    return blocks
