"""Typed commands: a `/ts` line is read into a frozen pydantic model before anything runs.

The language goes text → typed command → handler → reply. Reading (`Command.parse`) and doing
(`Command.run`) are separate steps so that a line is wholly understood — every word accounted for,
every mistake a one-line `UsageError` — before anything changes, and so that buttons and forms
can build the very same models instead of faking a typed line.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from chatops.blockkit import Reply, blank
from commands.context import Context, Refused, UsageError


class Command(BaseModel):
    """One command as understood: typed arguments only, immutable once read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **values: Any) -> None:
        # Whoever builds a command (a parse, a button, a form), a value it rejects is the user's
        # one-line mistake: pydantic's own report must never reach them.
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise usage_error(error) from None

    @classmethod
    @abstractmethod
    def parse(cls, args: list[str], ctx: Context) -> Command:
        """The command that `args` (the words after the verb) mean, or `UsageError`.

        `ctx` is there for what reading needs: the asker's zone and the clock for times, the
        team's rota for `@name`. A verb with sub-verbs returns the chosen sub-verb's model.
        Typed words are `parsing.Token`s: free text is taken with `parsing.verbatim`, never
        re-joined, so it stays exactly as typed.
        """

    @abstractmethod
    def run(self, ctx: Context) -> Reply:
        """Do it for `ctx.actor` and say what happened; rules are the services' business."""


def usage_error(error: ValidationError, usage: str | None = None) -> UsageError:
    """A pydantic error as the one line a user sees: each field and what is wrong with it, without
    pydantic's input dump and documentation links."""
    problems = []
    for detail in error.errors(include_url=False):
        cause = (detail.get("ctx") or {}).get("error")
        message = str(cause) if isinstance(cause, ValueError) else detail["msg"]
        field = ".".join(str(part) for part in detail["loc"])
        problems.append(f"{field}: {message}" if field else message)
    return UsageError("; ".join(problems) or "can't read that command", usage)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An instant: aware (a naive time is refused) and kept in UTC, whatever zone it was typed in."""

#: The longest free text (summary, details, note, reason) a command takes: one Slack section's
#: worth, so a paste of a whole chat log is refused instead of stored and re-posted everywhere.
FREE_TEXT_MAX = 3000


def _bounded(value: str) -> str:
    if blank(value):  # `""`, a zero-width space: nothing was said, so nothing is stored
        return ""
    if len(value) > FREE_TEXT_MAX:
        raise ValueError(f"too long ({len(value):,} characters; at most {FREE_TEXT_MAX:,})")
    return value


FreeText = Annotated[str, AfterValidator(_bounded)]
"""Text typed for people to read (a summary, a note, a reason): at most 3,000 characters, and
empty when it shows nothing (so a required one is refused and an optional one left out)."""

#: The largest row id a button may name: every id column is a 32-bit integer on PostgreSQL.
MAX_ROW_ID = 2**31 - 1


def button_id(value: str, broken: str) -> int:
    """The row id a button's value names, or `Refused(broken)`: values can be forged, so junk,
    unicode digits and numbers no column can hold are refused before any query."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ROW_ID:
        raise Refused(broken)
    return int(text)


SlackId = Annotated[str, Field(min_length=1, pattern=r"^\S+$")]
"""A member's Slack user id, already resolved from a mention or an `@name`."""
