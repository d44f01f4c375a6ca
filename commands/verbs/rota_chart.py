"""`/ts rota show chart [days:N | <from> to <to>]`: the rota as a picture, for the asker alone.

The same timeline as `chatops rota plot` (chatops/oncall/plot.py): every rotation's shifts,
names on the bars, gaps in red, hour ticks in the asker's zone, DST days at their real length.
Read by `/ts rota show` (commands/verbs/rota.py), which hands it the words after `chart`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import model_validator

from chatops.blockkit import Attachment, Reply, quote_input, user_text
from commands.command import Command, UtcDatetime
from commands.context import Context, UsageError
from commands.rota_view import local, team_rota
from commands.timeparse import parse_span

USAGE = "/ts rota show chart [days:N | <from> to <to>]"
DEFAULT_DAYS = 7
#: The longest window a chart in chat shows: past a month the bars are too thin to read.
MAX_DAYS = 31


class RotaChart(Command):
    """The rota's timeline over [start, end), drawn in the asker's zone."""

    start: UtcDatetime
    end: UtcDatetime

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.end == self.start:
            raise ValueError("the chart's window is empty: it ends when it starts")
        if self.end < self.start:
            raise ValueError("the chart's end is before its start")
        if self.end - self.start > timedelta(days=MAX_DAYS):
            raise ValueError(f"a chart in chat shows {MAX_DAYS} days at most")
        return self

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        now = ctx.clock()
        if not args:
            return cls(start=now, end=now + timedelta(days=DEFAULT_DAYS))
        first = args[0]
        if len(args) == 1 and first.lower().startswith("days:"):
            value = first[5:]
            if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_DAYS):
                raise UsageError(f"days:N takes 1 to {MAX_DAYS}", USAGE)
            return cls(start=now, end=now + timedelta(days=int(value)))
        if "to" not in [a.lower() for a in args]:
            raise UsageError(f"unexpected `{quote_input(' '.join(args))}`", USAGE)
        # An end given as a day includes that day, as `/ts away` and `/ts report` read it.
        start, end, rest = parse_span(args, ctx, whole_days=True)
        if rest:
            raise UsageError(f"unexpected `{quote_input(' '.join(rest))}`", USAGE)
        return cls(start=start, end=end)

    def run(self, ctx: Context) -> Reply:
        compiled = team_rota(ctx)
        tz = ctx.actor.tz if ctx.actor else compiled.spec.team.tz
        # matplotlib loads in about a second: only when a chart is asked for.
        from chatops.oncall import plot
        from chatops.reports.charts import png

        figure = plot.draw(compiled, self.start, self.end, tz)
        name = f"rota-{self.start:%Y%m%d}-{self.end:%Y%m%d}.png"
        title = (
            f"{compiled.spec.team.name} rota, {local(ctx, self.start)} to {local(ctx, self.end)}"
        )
        return Reply(
            text=(
                f":bar_chart: The {user_text(compiled.spec.team.name)} rota from "
                f"{local(ctx, self.start)} up to {local(ctx, self.end)}, as a chart sent to you "
                "alone: gaps in red, overrides hatched, hours in your zone."
            ),
            files=[Attachment(filename=name, title=title, data=png(figure))],
        )
