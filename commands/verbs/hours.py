"""`/ts hours [<days>] <HH:MM>-<HH:MM> | default`: see or set your own working hours.

Routine pages (a policy with `hours: working`) wait for them, in your own zone. Without
arguments it shows yours; `default` goes back to 09:00–18:00 Monday to Friday.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import ValidationError

from chatops.blockkit import Reply, quote_input
from chatops.oncall import workhours
from commands.command import Command
from commands.context import Context, UsageError
from commands.registry import verb
from commands.timeparse import time_of_day
from rota.spec import DEFAULT_WORKING_HOURS, WorkingHours
from rota.yamlio import validation_messages

USAGE = "/ts hours [<days>] <HH:MM>-<HH:MM> | /ts hours default"


def _time_of_day(text: str) -> str:
    """`9`, `09:30`, `5pm`, `12am` as `HH:MM`; one line naming the word otherwise."""
    return time_of_day(text, bare_hour=True).strftime("%H:%M")


def _read(args: list[str]) -> WorkingHours:
    """`[<days>] <from>-<to>`: days as a range or list (spaces allowed), times as people type
    them (`9-17`, `09:00 - 17:30`, `9am-5pm`)."""
    text = " ".join(args)
    match = re.match(r"^(?P<days>[a-z,\s-]*?)\s*(?P<span>[\d:apm\s]+-[\d:apm\s]+)$", text.lower())
    if match is None:
        raise UsageError(f"can't read `{quote_input(text)}`; e.g. mon-thu 08:00-17:00")
    start, end = match.group("span").split("-")
    data: dict[str, object] = {"from": _time_of_day(start), "to": _time_of_day(end)}
    if days := ",".join(match.group("days").replace(",", " ").split()):
        data["days"] = days
    try:
        return WorkingHours.model_validate(data)
    except ValidationError as error:
        raise UsageError(
            "; ".join(m.removeprefix("(root): ") for m in validation_messages(error))
        ) from None


@verb(
    "hours",
    summary="See or set your own working hours (routine pages wait for them).",
    usage=USAGE,
    examples=("/ts hours", "/ts hours mon-thu 08:00-17:00", "/ts hours 9-17", "/ts hours default"),
    details=(
        "Pages of a policy with `hours: working` (sev4 by default) wait for your working hours, "
        "in your own time zone. Days: a range (`mon-thu`) or a list (`mon,wed,fri`); "
        "the default is mon-fri 09:00-18:00."
    ),
)
class Hours(Command):
    hours: WorkingHours | None = None  # None: show them

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if not args:
            return cls()
        if [a.lower() for a in args] == ["default"]:
            return cls(hours=DEFAULT_WORKING_HOURS)
        return cls(hours=_read(args))

    def run(self, ctx: Context) -> Reply:
        zone = ctx.actor.tz if ctx.actor else "UTC"
        with ctx.db.transaction() as session:
            if self.hours is None:
                mine = workhours.working_hours(session, team_id=ctx.team_id, actor=ctx.actor)
                return Reply(
                    text=f"Your working hours: {mine.describe()} ({zone}). Routine pages wait "
                    "for them; change them with `/ts hours mon-thu 08:00-17:00`."
                )
            before = workhours.set_working_hours(
                session, team_id=ctx.team_id, actor=ctx.actor, hours=self.hours, now=ctx.clock()
            )
        return Reply(
            text=f":white_check_mark: Your working hours are now {self.hours.describe()} "
            f"({zone}); they were {before.describe()}. Routine pages wait for them."
        )
