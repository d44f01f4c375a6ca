"""Dates and times as people type them, read in the asker's own zone.

Accepted: `now`, `in 2h` (or `in 2 hours`), `HH:MM` or `9am`/`5:30 pm` (today), `today HH:MM`,
`tomorrow HH:MM`, `yesterday`, a weekday (`mon 09:00`, the next one), `YYYY-MM-DD HH:MM`,
`YYYY-MM-DD` (midnight), a month and day (`dec 28`, `28 December 09:00`: the next such day),
and ISO 8601 with an offset or `Z`.
A local time that does not exist (spring forward) is the first valid instant after it; one that
happens twice (fall back) is its first occurrence — the rota's own rules.
A time more than `MAX_REACH` from now is refused: nobody plans a rota a decade out, and the
calendar arithmetic behind it overflows near the years 1 and 9999. In a span, an end named by a
weekday or a month and day is the first such day on or after the start (`mon to fri`), and an
end given as a time alone is on the start's day, or the next when that is before the start
(`tomorrow 09:00 to 17:00`, `fri 22:00 to 06:00`).
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time, timedelta

from chatops.blockkit import quote_input
from chatops.clock import parse_duration
from commands.context import Context, UsageError
from rota.wallclock import from_ts, wall_to_ts, zone

EXAMPLES = "`tomorrow 09:00`, `2027-03-14 02:30`, `in 2h` or `2027-03-14T02:30Z`"
#: A time of day: `09:00`, `9:30`, or with am/pm as many people type it (`9am`, `5:30pm`).
_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$", re.ASCII | re.I)
_HALVES = frozenset({"am", "pm", "a.m.", "p.m."})
#: How far from now a typed time may be, either way.
MAX_REACH = timedelta(days=3653)


class AmbiguousClock(UsageError):
    """A time of day that a 24-hour and a 12-hour reader take differently (`2:00`)."""


class OutOfReach(UsageError):
    """A time that was read but lies too far away, or a date that does not exist: worth saying
    as such, rather than "can't read", when a span's end is tried in several lengths."""


def _too_far(typed: str, ahead: bool) -> OutOfReach:
    way = f"ahead (at most {MAX_REACH.days} days from now)"
    if not ahead:
        way = f"back (at most {MAX_REACH.days} days ago)"
    return OutOfReach(f"`{quote_input(typed.strip())}` is too far {way}")


#: Times of day said as words.
_NAMED_TIMES = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}


def _ends_in_clock(word: str) -> bool:
    """Whether `word` is a time of day or a range ending in one (`16:00`, `14:00-16:00`)."""
    return _is_clock(re.split(r"[-–—]", word)[-1])


def _is_clock(text: str) -> bool:
    """Whether `text` is written as a time of day (a colon or am/pm, or `noon`: a bare `9` is
    not)."""
    match = _CLOCK.match(_NAMED_TIMES.get(text.lower(), text))
    return match is not None and (match.group(2) is not None or match.group(3) is not None)


def time_of_day(text: str, *, bare_hour: bool = False) -> time:
    """`09:00`, `9:30`, `9am`, `5:30 pm` (and with `bare_hour`, `9`: in `9-17`) as a time;
    one line naming the word otherwise."""
    text = _NAMED_TIMES.get(text.strip().lower(), text.strip())
    match = _CLOCK.match(text)
    if not match or not (bare_hour or _is_clock(text)):
        raise UsageError(f"`{quote_input(text)}` is not a time of day like 09:00 or 9am")
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if not bare_hour and half is None and len(match.group(1)) == 1 and 1 <= hour <= 5:
        # `2:00` is 02:00 to a 24-hour clock and 2pm to a 12-hour one: ask which
        raise AmbiguousClock(
            f"`{quote_input(text)}` could be night or afternoon: write "
            f"0{hour}:{minute:02d} or {hour + 12}:{minute:02d} (or {hour}am / {hour}pm)"
        )
    if half is not None:  # 12am is midnight, 12pm noon; 13pm means nothing
        if not 1 <= hour <= 12:
            raise UsageError(f"`{quote_input(text)}` is not a time of day like 09:00 or 9am")
        hour = hour % 12 + (12 if half.lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        raise UsageError(f"`{quote_input(text)}` is not a time of day like 09:00 or 9am")
    return time(hour, minute)


def parse_when(text: str, ctx: Context, *, now: datetime, base: date | None = None) -> datetime:
    """An aware UTC instant for `text`, or `UsageError` naming what could not be read.

    With `base`, a weekday or a month and day is the first one on or after that local day
    (a span's end, read after its start) instead of the next one after today."""
    try:
        when = _read_when(text, ctx, now=now, base=base)
    except OverflowError:
        raise _too_far(text, ahead=not text.strip().startswith("000")) from None
    if abs(when - now) > MAX_REACH:
        raise _too_far(text, ahead=when > now)
    return when


def _words(text: str) -> list[str]:
    """`text` in lower-case words, with `9 am` as one (`9am`) and a time of day after the day
    it is on (`3am tomorrow` as `tomorrow 3am`); punctuation after a word (`friday.`, `fri,`)
    and the words `on` and `at` (`5pm on friday`) are dropped."""
    words = [_unpunctuated(w) for w in text.strip().lower().split()]
    words = [w for w in words if w and w not in _FILLER_WORDS]
    if len(words) >= 2 and words[1] in _HALVES and _CLOCK.match(words[0]):
        words[:2] = [words[0] + words[1]]
    if len(words) >= 2 and words[-1] in _HALVES and _CLOCK.match(words[-2]):
        words[-2:] = [words[-2] + words[-1]]
    if len(words) >= 2 and _is_clock(words[0]) and not _is_clock(words[1]):
        words = [*words[1:], words[0]]  # `3am tomorrow` as `tomorrow 3am`
    return words


_FILLER_WORDS = frozenset({"on", "at", "from"})


def _unpunctuated(word: str) -> str:
    """`word` without the punctuation a sentence puts after it (`fri,` `friday.`), keeping the
    dots of `a.m.` and `p.m.`."""
    word = word.rstrip(",;:!?")
    return word if word.endswith(("a.m.", "p.m.")) else word.rstrip(".")


def _read_when(text: str, ctx: Context, *, now: datetime, base: date | None) -> datetime:
    tz_name = ctx.actor.tz if ctx.actor else "UTC"
    tz = zone(tz_name)
    words = _words(text)
    if not words:
        raise UsageError(f"a time is needed, e.g. {EXAMPLES}")
    if words == ["now"]:
        return now
    if words[0] == "in" and len(words) in {2, 3}:
        if (lasting := _duration_words(words[1:])) is None or lasting[1] != len(words) - 1:
            raise UsageError(
                f"`{quote_input(' '.join(words[1:]))}` is not a duration like 15m or 2 hours"
            )
        return now + lasting[0]
    today = now.astimezone(tz).date()
    if len(words) == 1 and re.match(r"^\d{4}-\d{2}-\d{2}t", words[0], re.ASCII):
        return _iso(text.strip())
    day, rest = _read_day(words, today, base)
    if day is not None and abs(day - today) > MAX_REACH:
        raise _too_far(" ".join(words[: len(words) - len(rest)]), ahead=day > today)
    if day is None:
        if len(rest) == 1 and _is_clock(rest[0]):
            day = base or today  # a span's end: the start's day
        else:
            raise UsageError(f"can't read `{quote_input(text)}` as a time; try {EXAMPLES}")
    if len(rest) > 1:
        raise UsageError(f"can't read `{quote_input(text)}` as a time; try {EXAMPLES}")
    at = time_of_day(rest[0]) if rest else time(0, 0)
    return from_ts(wall_to_ts(datetime.combine(day, at), tz))


_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_UNIT_WORDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "w"),
}


#: Words that mean one of a unit: `a week`, `an hour`, `one day`.
_ONE = frozenset({"a", "an", "one"})
#: Units people use for a length that `_duration_words` does not read (or reads only whole).
_LENGTH_WORDS = re.compile(
    r"(?i)(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|"
    r"fortnights?|months?|mos?|years?|yrs?)"
)


def _looks_like_a_duration(words: list[str]) -> bool:
    """Whether `words` start like a length (`3 months`, `1.5 days`, `a year`, `2mo`) that
    could not be read: then `for …` is a length typed wrong, not the start of a reason, and
    must not silently become one."""
    first = words[0].lower()
    joined = re.fullmatch(r"[\d.,½]+\s*([a-z]+)", first)
    if joined:
        return bool(_LENGTH_WORDS.fullmatch(joined.group(1)))
    if len(words) < 2:
        return False
    number = re.fullmatch(r"[\d.,½]+|a|an|one|half|two|three|few|couple", first)
    return bool(number) and bool(_LENGTH_WORDS.fullmatch(words[1].lower().rstrip(".,")))


def _month(word: str) -> int | None:
    """1–12 for `dec`, `Dec.`, `december`; None for any other word."""
    word = word.rstrip(".")
    if len(word) >= 3 and word.isalpha() and word[:3] in _MONTHS:
        full = date(2000, _MONTHS.index(word[:3]) + 1, 1).strftime("%B").lower()
        if full.startswith(word):
            return _MONTHS.index(word[:3]) + 1
    return None


def _day_number(word: str) -> int | None:
    match = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", word, re.ASCII)
    return int(match.group(1)) if match else None


_NEAR = {"yesterday": -1, "today": 0, "tomorrow": 1}


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ALIASES = {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}


def _weekday(word: str) -> int | None:
    """Monday 0 … Sunday 6 for a weekday's name or its beginning (`fri`, `wedn`, `thurs`);
    None for any other word, though it start like one (`wedding`, `monitoring`, `sunny`)."""
    if word in _WEEKDAY_ALIASES:
        return _WEEKDAY_ALIASES[word]
    if len(word) < 3:
        return None
    found = [i for i, name in enumerate(_WEEKDAYS) if name.startswith(word)]
    return found[0] if len(found) == 1 else None


def _read_day(
    words: list[str], today: date, base: date | None = None
) -> tuple[date | None, list[str]]:
    """The day `words` start with (and the words after it), or None and all the words.

    A weekday is the next one after today, or with `base` the first on or after `base`."""
    if len(words) >= 2 and words[0] in {"next", "this"} and _weekday(words[1]) is not None:
        words = words[1:]  # "next monday", "this friday": the coming one
    first = words[0]
    if first in _NEAR:
        return today + timedelta(days=_NEAR[first]), words[1:]
    if (weekday := _weekday(first)) is not None:
        if (dated := _dated_weekday(words[1:], weekday, today, base)) is not None:
            return dated  # `fri 26th`, `fri 26 march`, `fri next week`
        if base is not None:
            return base + timedelta(days=(weekday - base.weekday()) % 7), words[1:]
        return today + timedelta(days=(weekday - today.weekday()) % 7 or 7), words[1:]
    if re.match(r"^\d{4}-\d{2}-\d{2}$", first, re.ASCII):
        try:
            return date.fromisoformat(first), words[1:]
        except ValueError:
            raise OutOfReach(f"`{quote_input(first)}` is not a real date") from None
    if len(words) >= 2:
        month, number = _month(first), _day_number(words[1])
        if month is None:
            month, number = _month(words[1]), _day_number(first)
        if month is not None and number is not None:
            typed = " ".join(words[:2])
            return _next_month_day(month, number, base or today, typed), words[2:]
    return None, words


def _dated_weekday(
    rest: list[str], weekday: int, today: date, base: date | None
) -> tuple[date, list[str]] | None:
    """The day a weekday names with a date after it (`fri 26th`, `fri march 26`), checked to
    be that weekday, or with `next week` (the weekday of next calendar week); else None."""
    if rest[:1] == ["the"]:
        rest = rest[1:]  # `monday the 29th`
    if rest[:2] == ["next", "week"]:
        monday = today + timedelta(days=7 - today.weekday())
        return monday + timedelta(days=weekday), rest[2:]
    if not rest:
        return None
    start = base or today
    month, number = _month(rest[0]), _day_number(rest[1]) if len(rest) > 1 else None
    if month is not None and number is not None:
        day, used = _next_month_day(month, number, start, " ".join(rest[:2])), 2
    elif (number := _day_number(rest[0])) is not None:
        month = _month(rest[1]) if len(rest) > 1 else None
        if month is not None:
            day, used = _next_month_day(month, number, start, " ".join(rest[:2])), 2
        elif 1 <= number <= 31 and not rest[0].isdigit():  # `26th`; a bare `9` may be an hour
            day, used = _next_day_of_month(number, start, rest[0]), 1
        else:
            return None
    else:
        return None
    if day.weekday() != weekday:
        raise UsageError(
            f"{day:%A %d %B %Y} is not a {_WEEKDAYS[weekday].capitalize()}: give the date "
            "or the weekday alone"
        )
    return day, rest[used:]


def _next_day_of_month(number: int, start: date, typed: str) -> date:
    """The next `number`th of a month from `start` on (`26th`)."""
    year, month = start.year, start.month
    for _ in range(13):
        try:
            if (day := date(year, month, number)) >= start:
                return day
        except ValueError:
            pass
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise OutOfReach(f"`{quote_input(typed)}` is not a day of any month")


def _next_month_day(month: int, number: int, today: date, typed: str) -> date:
    """The next `month`/`number` from today on (Feb 29 may be up to eight years ahead)."""
    try:
        date(2000, month, number)  # a leap year: every real month and day exists in it
    except ValueError:
        raise OutOfReach(f"`{quote_input(typed)}` is not a real date") from None
    for year in range(today.year, today.year + 9):
        try:
            if (day := date(year, month, number)) >= today:
                return day
        except ValueError:
            continue
    raise AssertionError(typed)  # some year in any nine has a Feb 29


def _duration_words(words: list[str]) -> tuple[timedelta, int] | None:
    """A duration at the start of `words` (`8h`, `1h30m`, `2 days`, `3 hours`, `4h 30m`,
    `4 hours 30 minutes`) and how many words it took, or None."""
    first = _one_duration(words)
    if first is None:
        return None
    more = _one_duration(words[first[1] :]) if words[first[1] :][:1] != ["to"] else None
    if more is not None and more[0] < first[0]:  # `4h 30m`: the smaller unit adds to it
        return first[0] + more[0], first[1] + more[1]
    return first


def _one_duration(words: list[str]) -> tuple[timedelta, int] | None:
    """One duration (a number and its unit) at the start of `words`, or None."""
    if len(words) > 1 and words[0].lower() in _ONE:  # `a week`, `an hour`, `one day`
        words = ["1", *words[1:]]
    for take in (1, 2):
        if take == 2 and not (len(words) > 1 and words[0].isdigit()):
            return None  # two words only as a number and its unit: `2 days`
        typed = "".join(words[:take]).lower()
        try:
            return parse_duration(typed), take
        except ValueError:
            pass
        spelled = re.fullmatch(r"(\d+)([a-z]+)", typed, re.ASCII)
        if spelled and spelled.group(2) in _UNIT_WORDS:
            try:
                return parse_duration(spelled.group(1) + _UNIT_WORDS[spelled.group(2)]), take
            except ValueError:  # too long for any calendar
                raise OutOfReach(
                    f"`{quote_input(' '.join(words[:take]))}` is too long "
                    f"(at most {MAX_REACH.days} days)"
                ) from None
    return None


def _date_only(text: str, ctx: Context, now: datetime, base: date | None = None) -> date | None:
    """The day `text` names when it names a day and no time of day (`2027-04-15`, `fri`,
    `dec 28`), else None."""
    words = _words(text)
    if not words:
        return None
    try:
        day, rest = _read_day(words, _today(ctx, now), base)
    except UsageError:
        return None
    return day if day is not None and not rest else None


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPAN = "give a time span like `tomorrow 08:00 to tomorrow 18:00` or `now for 8h`"
_WHOLE_DAYS = (
    "give the days like `2027-04-01 to 2027-04-15`, `fri`, `dec 28 for 3 days`, "
    "or times like `tomorrow 08:00 to tomorrow 18:00`"
)


def parse_span(
    words: list[str], ctx: Context, *, whole_days: bool = False, past: bool = False
) -> tuple[datetime, datetime, list[str]]:
    """`<from> to <to> [rest…]` or `<from> [for] <duration> [rest…]` in the asker's zone;
    each time is up to three words (`dec 28 09:00`), a duration one or two (`8h`, `2 days`).

    Two dates with nothing between them (`2027-04-01 2027-04-15`) are a span too: people type
    that. With `whole_days`, an end given as a day with no time includes that day ("away
    2027-04-01 to 2027-04-15" is back on the 16th), and a day alone is that whole day ("away
    fri dentist"), as people mean it. Returns both instants and the words after the span
    (options, a reason), so every verb that takes a window reads it the same way. With
    `past` (a report), a start named by a month and day or a weekday is the last such day,
    not the next one: `mar 1 to mar 15` looks back.
    """
    now = ctx.clock()
    _refuse_zones(words, ctx)
    words = _hyphened(_day_run(words, ctx, now))
    if len(words) >= 2 and all(_DAY.fullmatch(w) for w in words[:2]):
        start, end = parse_when(words[0], ctx, now=now), parse_when(words[1], ctx, now=now)
        if whole_days:
            end = _day_end(date.fromisoformat(words[1]), ctx, now)
        return start, end, words[2:]
    lasting = _span_for(words, ctx, now)
    if lasting is not None:
        return lasting
    lowered = [w.lower() for w in words]
    if "to" not in lowered:
        if whole_days and (alone := _one_day(words, ctx, now)) is not None:
            return alone
        _refuse_a_start_alone(words, ctx, now)
        raise UsageError(_WHOLE_DAYS if whole_days else _SPAN)
    cut = lowered.index("to")
    start_typed = " ".join(words[:cut])
    try:
        start = parse_when(start_typed, ctx, now=now)
    except UsageError:
        # `fri going to the dentist`: the `to` is the reason's, after a day alone (but not
        # `tomorrow 9 to 5`, whose `9` meant a time and is refused as one)
        alone = _one_day(words, ctx, now) if whole_days else None
        said = [w.lower() for w in (alone[2] if alone is not None else [])]
        said = said[1:] if said[:1] and said[0] in _PART_STARTERS else said
        if alone is not None and not (said and _time_like(said[0])):
            return alone
        raise
    if past and start > now and (earlier := _the_last_one(start_typed, ctx, now)) is not None:
        start = parse_when(earlier.isoformat(), ctx, now=now)
    base = _today(ctx, start)  # an end's weekday or month and day: on or after the start
    after = words[cut + 1 :]
    reached: UsageError | None = None
    unread: UsageError | None = None
    # `tomorrow 9am-5pm sunday school`: a range written as one word ends in it; only a start
    # that is a time alone takes its day from after the range (`9am-5pm fri`).
    ranged = isinstance(words[cut], _RangeTo) and not _clock_alone(start_typed)
    for take in (1,) if ranged else (3, 2, 1):
        if len(after) >= take:
            typed = " ".join(after[:take])
            try:
                end = parse_when(typed, ctx, now=now, base=base)
            except OutOfReach as error:
                reached = reached or error
                continue
            except UsageError as error:
                unread = error  # the shortest reading's reason, given when it was ambiguous
                continue
            if whole_days and (named := _date_only(typed, ctx, now, base)) is not None:
                more = [_unpunctuated(w.lower()) for w in after[take : take + 1]]
                if more and _ends_in_clock(more[0]):  # `mon to fri 9am-5pm`: several windows
                    raise UsageError(
                        f"`{quote_input(' '.join(words[: cut + 1 + take + 1]))}`: hours on "
                        "several days are several windows; give one day at a time, or the "
                        "whole days"
                    )
                if more and more[0] in _DAY_PARTS:  # `to tomorrow morning`: not all of it
                    raise UsageError(
                        f"`{quote_input(' '.join(after[: take + 1]))}`: give the end's time, "
                        "like `tomorrow 09:00`"
                    )
                if _same_weekday(start_typed, typed):  # `fri to fri`: a day, or a week?
                    raise UsageError(
                        f"`{quote_input(start_typed)} to {quote_input(typed)}`: one day or a "
                        "week? Give the day alone, or the last day (`fri to thu`)"
                    )
                end = _day_end(named, ctx, now)
            clock_only = len(said := _words(typed)) == 1 and _is_clock(said[0])
            # `22:00 to 06:00`: overnight. Not when equal: `02:00 to 03:00` on the night
            # clocks skip that hour is the one instant 03:00, an empty span, not a day.
            if clock_only and end < start:
                end = parse_when(typed, ctx, now=now, base=base + timedelta(days=1))
            elif _clock_alone(start_typed) and len(said) >= 2 and _clock_first(typed):
                # `9am to 5pm tomorrow`, `22:00 to 06:00 fri`: the day named once is both ends'
                # (the start the evening before when it would not come first).
                day = _today(ctx, end)
                start = parse_when(start_typed, ctx, now=now, base=day)
                if start >= end:
                    start = parse_when(start_typed, ctx, now=now, base=day - timedelta(days=1))
            return start, end, after[take:]
    if reached is not None:
        raise reached
    if isinstance(unread, AmbiguousClock):
        raise unread
    raise UsageError(f"can't read the end time `{quote_input(' '.join(after[:2]))}`")


def _day_run(words: list[str], ctx: Context, now: datetime) -> list[str]:
    """`thu fri`, `thu & fri`, `tue, wed, thu`, `today and tomorrow`: days in a row at the
    start, as the span `first to last`; days that are not in a row are refused (two absences,
    not one span)."""
    today = _today(ctx, now)
    days: list[tuple[int, date]] = []  # (index of the word, its day)
    i = 0
    while i < len(words):
        word = _unpunctuated(words[i].lower())
        if days and word in {"and", "&", "+"}:
            i += 1
            continue
        if _weekday(word) is None and word not in _NEAR:
            break
        after = days[-1][1] + timedelta(days=1) if days else None  # the next one on from it
        day, _ = _read_day([word], today, after if _weekday(word) is not None else None)
        if day is None:
            break
        days.append((i, day))
        i += 1
    if len(days) < 2:
        return words
    if any(b - a != timedelta(days=1) for (_, a), (_, b) in itertools.pairwise(days)):
        listed = quote_input(" ".join(words[: days[-1][0] + 1]))
        raise UsageError(
            f"`{listed}` are not days in a row: give each its own command, or a span like "
            "`mon to fri`"
        )
    first, last = days[0][0], days[-1][0]
    return [words[first].rstrip(","), "to", words[last], *words[last + 1 :]]


def _the_last_one(typed: str, ctx: Context, now: datetime) -> date | None:
    """The day before today that a weekday or a month and day (`typed`, read as the next
    one) names: a week or a year earlier. None for other days and for times of day."""
    named = _date_only(typed, ctx, now)
    said = _words(typed)
    if named is None or not said:
        return None
    if _weekday(said[0]) is not None or said[0] in {"next", "this"}:
        return named - timedelta(days=7)
    if _month(said[0]) is not None or (len(said) > 1 and _month(said[1]) is not None):
        try:
            return named.replace(year=named.year - 1)
        except ValueError:  # 29 February
            return None
    return None


#: Zone names people write after a time; a span is read in the asker's own zone, so a time
#: written in another is refused rather than read an ocean away.
_ZONE_WORDS = frozenset(
    {"utc", "gmt", "cet", "cest", "eet", "eest", "bst", "ist", "est", "edt", "cst", "cdt"}
    | {"mst", "mdt", "pst", "pdt", "aest", "aedt", "jst", "kst", "sgt", "hkt", "brt"}
)


def _refuse_zones(words: list[str], ctx: Context) -> None:
    """A zone written right after a time (`16:00 CET`), or a zone's name among the span's
    first words (`Europe/Berlin`), is refused."""
    for i, word in enumerate(words[:8]):
        bare = re.sub(r"[^\w/+-]", "", _unpunctuated(word)).lower()
        after_a_time = i > 0 and _ends_in_clock(_unpunctuated(words[i - 1].lower()))
        if (bare in _ZONE_WORDS and after_a_time) or (
            "/" in bare and bare.split("/")[0] in _REGIONS
        ):
            mine = ctx.actor.tz if ctx.actor else "UTC"
            raise UsageError(
                f"`{quote_input(word)}`: times here are read in your own zone ({mine}); write "
                "them in it, or as ISO 8601 with an offset (`2027-03-19T14:00+01:00`)"
            )


_REGIONS = frozenset(
    {"europe", "america", "asia", "africa", "australia", "pacific", "atlantic", "indian"}
)


def _same_weekday(start: str, end: str) -> bool:
    """Whether a span is typed as one weekday to itself (`fri to fri`)."""
    one, other = _words(start), _words(end)
    return (
        len(one) == len(other) == 1
        and _weekday(one[0]) is not None
        and _weekday(one[0]) == _weekday(other[0])
    )


def _clock_first(typed: str) -> bool:
    """Whether `typed` begins with its time of day (`5pm tomorrow`, `06:00 fri`)."""
    first = typed.strip().lower().split()[:2]
    return bool(first) and (
        _is_clock(_unpunctuated(first[0]))
        or (len(first) == 2 and first[1] in _HALVES and _CLOCK.match(first[0]) is not None)
    )


def _clock_alone(typed: str) -> bool:
    said = _words(typed)
    return len(said) == 1 and _is_clock(said[0])


def _hyphened(words: list[str]) -> list[str]:
    """A span's `to` as people also write it: `9am-5pm`, `09:00–17:00`, `9-17`, `14h-16h`,
    `14h - 16h`, `10:00 until 12:00`. Only in the span itself, before any `to`, and only
    between times: `fri - dentist`, `1-1 with manager` and `14-18 april` keep their words."""
    out: list[str] = []
    for i, word in enumerate(words):
        following = words[i + 1].lower() if i + 1 < len(words) else ""
        if "to" in [w.lower() for w in out] or i >= _SPAN_WORDS:
            out.append(word)
            continue
        parts = re.split(r"[-–—]", _unpunctuated(word))
        if len(parts) == 2 and (shared := _shared_half(parts[0], parts[1])) is not None:
            parts = [shared, parts[1]]  # `2-4pm` is 2pm to 4pm
        numbers = len(parts) == 2 and all(p.isdigit() for p in parts)
        month = _month(_unpunctuated(out[-1].lower())) if out else None
        if numbers and month is not None and int(parts[0]) < int(parts[1]):
            out += [parts[0], "to", out[-1], parts[1]]  # `apr 1-15`: days of that month
            continue
        hours = numbers and all(int(p) <= 24 for p in parts)
        hours = hours and (not out or _time_like(out[-1].lower()))  # `fri 9-17`, not `work 9-5`
        if len(parts) == 2 and all(_is_clock(p) for p in parts):
            out += [parts[0], _RangeTo("to"), parts[1]]
        elif hours and _month(_unpunctuated(following)) is None:
            first, last = int(parts[0]), int(parts[1])
            if first < last and last > 12:
                out += [f"{first}:00", _RangeTo("to"), f"{last}:00"]  # `9-17`, as `/ts hours`
            elif first != last and last <= 12:  # `9-5`, `2-4`: morning or afternoon?
                raise UsageError(
                    f"`{quote_input(word)}` is not clear: write the hours as 09:00-17:00 or 9am-5pm"
                )
            else:
                out.append(word)  # `1-1`: a one-to-one, not a time
        elif len(parts) == 2 and all(
            _duration_words([p]) is not None or _FRENCH_HOUR.fullmatch(p) for p in parts
        ):
            out += [parts[0], "to", parts[1]]  # `14h-16h`: refused with a hint, as `14h to 16h`
        elif len(parts) == 2 and all(_weekday(_unpunctuated(p.lower())) is not None for p in parts):
            out += [parts[0], "to", parts[1]]  # `mon-fri`
        elif word.lower() == "and" and out and _weekday(_unpunctuated(out[-1].lower())) is not None:
            out.append(_and_days(out[-1], following))  # `sat and sun`
        elif (
            word.endswith(",")
            and _weekday(_unpunctuated(word.lower())) is not None
            and _weekday(_unpunctuated(following)) is not None
        ):
            out += [word[:-1], _and_days(word[:-1], following)]  # `sat, sun`
        elif word.lower() in _TO_WORDS and out and _time_like(following):
            out.append("to")
        elif word.lower() == "and" and out and _is_clock(_unpunctuated(out[-1].lower())):
            out.append("to")  # `between 9am and 5pm`
        elif word.lower() == "between" and _time_like(following):
            continue
        else:
            out.append(word)
    return out


def _shared_half(first: str, last: str) -> str | None:
    """`2` in `2-4pm` as `2pm` (`11` in `11-1pm` as `11am`): am/pm written once for both."""
    match = _CLOCK.match(last)
    if not first.isdigit() or not 1 <= int(first) <= 12 or match is None or not match.group(3):
        return None
    half = match.group(3).lower()
    start = time_of_day(first + half)
    if start >= time_of_day(last):
        start_half = "am" if half.startswith("p") else "pm"
        return first + start_half
    return first + half


def _and_days(first: str, word: str) -> str:
    """`sat and sun`: two days running are a span (`to`); two apart are two absences."""
    one, other = _weekday(_unpunctuated(first.lower())), _weekday(_unpunctuated(word.lower()))
    if one is None or other is None:
        return "and"
    if (other - one) % 7 == 1:
        return "to"
    raise UsageError(
        f"`{quote_input(first)} and {quote_input(word)}` are not one span: give each day "
        "its own command, or a span like `mon to fri`"
    )


class _RangeTo(str):
    """The `to` of a range written as one word (`9am-5pm`)."""


#: `14h30`: a time of day in French; not read here, but never the start of a reason either.
_FRENCH_HOUR = re.compile(r"\d{1,2}h\d{2}", re.ASCII)


def _time_like(word: str) -> bool:
    """Whether `word` starts a time: a clock, a day, a date or a length (`16h`)."""
    word = _unpunctuated(word)
    return bool(word) and (
        _is_clock(word)
        or _weekday(word) is not None
        or word in _NEAR
        or _month(word) is not None
        or _DAY.fullmatch(word) is not None
        or _duration_words([word]) is not None
        or _FRENCH_HOUR.fullmatch(word) is not None
        or word.isdigit()
    )


#: Words that mean `to` between two times; and how far into a span they are looked for.
_TO_WORDS = frozenset(
    {"until", "till", "til", "through", "thru", "-", "–", "—", "->", "→", "=>", "~", ">"}
)
_SPAN_WORDS = 6


def _refuse_a_start_alone(words: list[str], ctx: Context, now: datetime) -> None:
    """A lone instant (`in 2 hours`, `tomorrow 09:00`) is a start with no end: say so, with the
    two ways to give one, rather than the generic usage; a start out of reach says that."""
    for take in (3, 2, 1):
        if len(words) >= take:
            typed = " ".join(words[:take])
            try:
                parse_when(typed, ctx, now=now)
            except OutOfReach:
                raise
            except UsageError:
                continue
            shown = quote_input(typed)
            raise UsageError(
                f"`{shown}` says when, not for how long: give a time span like "
                f"`{shown} for 3 hours` or `{shown} to tomorrow 18:00`"
            )


def _one_day(
    words: list[str], ctx: Context, now: datetime
) -> tuple[datetime, datetime, list[str]] | None:
    """A day named alone at the start of `words` (`fri`, `2027-04-15`, `dec 28`): that whole
    day, and the words after it; None when the words start otherwise."""
    skip = 1 if words[:1] and words[0].lower() == "on" else 0  # `on friday`
    lowered = [_unpunctuated(w.lower()) for w in words[skip : skip + 3]]  # `fri,` `friday.`
    if not lowered or not lowered[0]:
        return None
    day, rest = _read_day(lowered, _today(ctx, now))
    if day is None or (rest and _is_clock(rest[0])):
        return None
    said = [_unpunctuated(w.lower()) for w in words[skip + len(lowered) - len(rest) :]][:3]
    if said[:1] and said[0] in _PART_STARTERS and len(said) > 1:
        said = said[1:]  # `fri from 2pm`, `tomorrow after 3pm`
    if (
        said[:1]
        and (
            said[0] in _DAY_PARTS
            or _ends_in_clock(said[0])  # `fri 2pm`, `9am-5pm` after a day range
            or said[0] in {"half", "1/2"}
            or (said[0].isdigit() and said[1:2] in (["and"], ["to"], ["-"]))  # `9 and 5`
        )
    ):
        # `fri night`, `fri pm`, `fri from 2pm`, `fri half day`: part of the day, not all of it
        shown = quote_input(" ".join(words[skip:][:4]))
        raise UsageError(f"`{shown}`: give the hours, like `fri 14:00 to 18:00`")
    start = parse_when(day.isoformat(), ctx, now=now)
    return start, _day_end(day, ctx, now), words[skip + len(lowered) - len(rest) :]


#: Words before a time that make it part of the day: `from 2pm`, `after 3pm`, `until noon`.
_PART_STARTERS = frozenset({"from", "after", "before", "until", "till", "by", "between"})
_DAY_PARTS = frozenset(
    {"morning", "afternoon", "evening", "night", "overnight", "am", "pm", "a.m.", "p.m."}
)


def _day_end(day: date, ctx: Context, now: datetime) -> datetime:
    """The local midnight that ends `day` (the next day's start, DST-exact)."""
    return parse_when((day + timedelta(days=1)).isoformat(), ctx, now=now)


def _today(ctx: Context, now: datetime) -> date:
    """The asker's local date now."""
    return now.astimezone(zone(ctx.actor.tz if ctx.actor else "UTC")).date()


def _span_for(
    words: list[str], ctx: Context, now: datetime
) -> tuple[datetime, datetime, list[str]] | None:
    """`<from> [for] <duration> [rest…]` (`now 8h`, `tomorrow 08:00 for 10h`, `fri for 2
    days`), else None."""
    for take in (3, 2, 1):
        if len(words) <= take:
            continue
        try:
            start = parse_when(" ".join(words[:take]), ctx, now=now)
        except UsageError:
            continue
        rest = words[take:]
        said_for = rest[0].lower() == "for" and len(rest) > 1
        if said_for:
            rest = rest[1:]
        lasting = _duration_words(rest)
        if lasting is None:
            if said_for and _looks_like_a_duration(rest):
                raise OutOfReach(
                    f"`for {quote_input(' '.join(rest[:2]))}` is not a length I can read: say it "
                    "in whole minutes, hours, days or weeks (`for 2 weeks`), or give the end day "
                    "with `to`"
                )
            return None
        typed = quote_input(" ".join(rest[: lasting[1]]))
        if lasting[0] > MAX_REACH:
            raise OutOfReach(f"`{typed}` is too long (at most {MAX_REACH.days} days)")
        after = rest[lasting[1] :]
        if (
            not said_for
            and [w.lower() for w in after[:1]] == ["to"]
            and _a_time_follows(after[1:], ctx, now)
        ):
            # `fri 14h to 16h`: hours of the day written as lengths; never read as `for 14h`.
            raise OutOfReach(
                f"`{typed}` reads as a length, not a time of day: write times like 14:00 or "
                "2pm (`fri 14:00 to 16:00`)"
            )
        named = _date_only(" ".join(words[:take]), ctx, now)
        if named is not None and not lasting[0] % timedelta(days=1):
            # `mon for 2 weeks`: calendar days, so a DST night does not move the end an hour
            last = named + timedelta(days=lasting[0].days - 1)
            return start, _day_end(last, ctx, now), after
        if named is not None:
            # `fri for 2h` would be 00:00-02:00: nobody means that, so ask when
            shown = quote_input(" ".join(words[:take]))
            raise OutOfReach(
                f"`{shown}` says the day, not when in it: give the start, like "
                f"`{shown} 14:00 for {typed}`"
            )
        return start, start + lasting[0], after
    return None


def _a_time_follows(words: list[str], ctx: Context, now: datetime) -> bool:
    """Whether `words` begin with a time or a length (`16h`, `16:00`, `fri`), not a reason's
    words (`to see the doctor`)."""
    if not words:
        return False
    if _duration_words(words[:1]) is not None or _duration_words(words[:2]) is not None:
        return True
    for take in (2, 1):
        try:
            parse_when(" ".join(words[:take]), ctx, now=now)
        except UsageError:
            continue
        return True
    return False


def _iso(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.upper())
    except ValueError:
        raise UsageError(f"`{quote_input(text)}` is not an ISO 8601 time; try {EXAMPLES}") from None
    if value.tzinfo is None:
        raise UsageError(f"`{quote_input(text)}` has no offset; add Z or +HH:MM, or drop the T")
    return value.astimezone(UTC)
