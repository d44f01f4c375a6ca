"""Dates and times as people type them, read in the asker's own zone.

Accepted: `now`, `in 2h`, `HH:MM` (today), `today HH:MM`, `tomorrow HH:MM`, a weekday
(`mon 09:00`, the next one), `YYYY-MM-DD HH:MM`, `YYYY-MM-DD` (midnight), and ISO 8601 with an
offset or `Z`. A local time that does not exist (spring forward) is the first valid instant after
it; one that happens twice (fall back) is its first occurrence — the rota's own rules.
A time more than `MAX_REACH` from now is refused: nobody plans a rota a decade out, and the
calendar arithmetic behind it overflows near the years 1 and 9999.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from chatops.blockkit import quote_input
from chatops.clock import parse_duration
from commands.context import Context, UsageError
from rota.wallclock import from_ts, wall_to_ts, zone

EXAMPLES = "`tomorrow 09:00`, `2027-03-14 02:30`, `in 2h` or `2027-03-14T02:30Z`"
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$", re.ASCII)
#: How far from now a typed time may be, either way.
MAX_REACH = timedelta(days=3653)
_TOO_FAR = "`{}` is too far from now: times must be within 10 years"


def _clock(text: str) -> time:
    match = _CLOCK.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UsageError(f"`{quote_input(text)}` is not a time of day like 09:00")
    return time(int(match.group(1)), int(match.group(2)))


def parse_when(text: str, ctx: Context, *, now: datetime) -> datetime:
    """An aware UTC instant for `text`, or `UsageError` naming what could not be read."""
    try:
        when = _read_when(text, ctx, now=now)
    except OverflowError:
        raise UsageError(_TOO_FAR.format(text.strip())) from None
    if abs(when - now) > MAX_REACH:
        raise UsageError(_TOO_FAR.format(text.strip()))
    return when


def _read_when(text: str, ctx: Context, *, now: datetime) -> datetime:
    tz_name = ctx.actor.tz if ctx.actor else "UTC"
    tz = zone(tz_name)
    words = text.strip().lower().split()
    if not words:
        raise UsageError(f"a time is needed, e.g. {EXAMPLES}")
    if words == ["now"]:
        return now
    if words[0] == "in" and len(words) == 2:
        try:
            return now + parse_duration(words[1])
        except ValueError as error:
            raise UsageError(str(error)) from None
    today = now.astimezone(tz).date()
    day: date | None = None
    rest = words
    if words[0] in {"today", "tomorrow"}:
        day = today + timedelta(days=1 if words[0] == "tomorrow" else 0)
        rest = words[1:]
    elif words[0][:3] in _DAYS and words[0].isalpha():
        ahead = (_DAYS.index(words[0][:3]) - today.weekday()) % 7 or 7
        day = today + timedelta(days=ahead)
        rest = words[1:]
    elif re.match(r"^\d{4}-\d{2}-\d{2}$", words[0], re.ASCII):
        try:
            day = date.fromisoformat(words[0])
        except ValueError:
            raise UsageError(f"`{quote_input(words[0])}` is not a real date") from None
        rest = words[1:]
    elif len(words) == 1 and re.match(r"^\d{4}-\d{2}-\d{2}t", words[0], re.ASCII):
        return _iso(text.strip())
    if day is None:
        if len(rest) == 1 and _CLOCK.match(rest[0]):
            day = today
        else:
            raise UsageError(f"can't read `{quote_input(text)}` as a time; try {EXAMPLES}")
    if len(rest) > 1:
        raise UsageError(f"can't read `{quote_input(text)}` as a time; try {EXAMPLES}")
    if abs(day - today) > MAX_REACH:
        raise UsageError(_TOO_FAR.format(quote_input(text.strip())))
    at = _clock(rest[0]) if rest else time(0, 0)
    return from_ts(wall_to_ts(datetime.combine(day, at), tz))


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_span(
    words: list[str], ctx: Context, *, whole_days: bool = False
) -> tuple[datetime, datetime, list[str]]:
    """`<from> to <to> [rest…]` or `<from> [for] <duration> [rest…]` in the asker's zone;
    each time is one or two words.

    Two dates with nothing between them (`2027-04-01 2027-04-15`) are a span too: people type
    that. With `whole_days`, an end given as a bare date includes that day ("away 2027-04-01 to
    2027-04-15" is back on the 16th), as people mean it. Returns both instants and the words
    after the span (options, a reason), so every verb that takes a window reads it the same way.
    """
    now = ctx.clock()
    if len(words) >= 2 and all(_DAY.fullmatch(w) for w in words[:2]):
        start, end = parse_when(words[0], ctx, now=now), parse_when(words[1], ctx, now=now)
        return start, _day_end(words[1], ctx, now) if whole_days else end, words[2:]
    lasting = _span_for(words, ctx, now)
    if lasting is not None:
        return lasting
    lowered = [w.lower() for w in words]
    if "to" not in lowered:
        raise UsageError("give a time span like `tomorrow 08:00 to tomorrow 18:00` or `now for 8h`")
    cut = lowered.index("to")
    start = parse_when(" ".join(words[:cut]), ctx, now=now)
    after = words[cut + 1 :]
    for take in (2, 1):
        if len(after) >= take:
            try:
                end = parse_when(" ".join(after[:take]), ctx, now=now)
            except UsageError:
                continue
            if whole_days and take == 1 and _DAY.fullmatch(after[0]):
                end = _day_end(after[0], ctx, now)
            return start, end, after[take:]
    raise UsageError(f"can't read the end time `{quote_input(' '.join(after[:2]))}`")


def _day_end(day: str, ctx: Context, now: datetime) -> datetime:
    """The local midnight that ends `day` (the next day's start, DST-exact)."""
    following = date.fromisoformat(day) + timedelta(days=1)
    return parse_when(following.isoformat(), ctx, now=now)


def _span_for(
    words: list[str], ctx: Context, now: datetime
) -> tuple[datetime, datetime, list[str]] | None:
    """`<from> [for] <duration> [rest…]` (`now 8h`, `tomorrow 08:00 for 10h`), else None."""
    for take in (2, 1):
        if len(words) <= take:
            continue
        try:
            start = parse_when(" ".join(words[:take]), ctx, now=now)
        except UsageError:
            continue
        rest = words[take:]
        if rest[0].lower() == "for" and len(rest) > 1:
            rest = rest[1:]
        try:
            length = parse_duration(rest[0])
        except ValueError:
            return None
        return start, start + length, rest[1:]
    return None


def _iso(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.upper())
    except ValueError:
        raise UsageError(f"`{quote_input(text)}` is not an ISO 8601 time; try {EXAMPLES}") from None
    if value.tzinfo is None:
        raise UsageError(f"`{quote_input(text)}` has no offset; add Z or +HH:MM, or drop the T")
    return value.astimezone(UTC)
