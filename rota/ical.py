"""Shifts as an RFC 5545 calendar, so people can see their on-call time in their own calendar.

Written by hand (it is a small, strict format): CRLF line ends, lines folded at 75 octets,
text escaped, and a stable UID per shift so re-imports update events instead of duplicating them.
Instants are in UTC (`...Z`), or, given a zone, local wall times with TZID and a VTIMEZONE that
lists that zone's real transitions over the shifts' span, so a calendar shows the DST-correct
local time even where its own zone database differs.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from rota.resolve import Shift
from rota.spec import RotaSpec
from rota.wallclock import from_ts, to_ts, zone

PRODID = "-//chatops//on-call rota//EN"


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74  # continuation lines start with one space
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return "\r\n ".join(out)


def _local(dt: datetime, tz: str) -> str:
    return dt.astimezone(zone(tz)).strftime("%Y%m%dT%H%M%S")


def _offset(delta: timedelta | None) -> str:
    seconds = int((delta or timedelta(0)).total_seconds())
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def transitions(tz: str, start: datetime, end: datetime) -> list[datetime]:
    """The instants in (start, end] at which `tz` changes its UTC offset or its name."""
    zi = zone(tz)

    def key(ts: int) -> tuple[timedelta | None, str | None]:
        local = from_ts(ts).astimezone(zi)
        return local.utcoffset(), local.tzname()

    out: list[datetime] = []
    lo = to_ts(start)
    stop = to_ts(end)
    while lo < stop:
        hi = min(lo + 3600, stop)
        if key(hi) != key(lo):
            a, b = lo, hi
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if key(mid) == key(lo) else (a, mid)
            out.append(from_ts(b))
        lo = hi
    return out


def vtimezone(tz: str, start: datetime, end: datetime) -> list[str]:
    """A VTIMEZONE for `tz` valid over [start, end]: its offset at `start`, then each change."""
    zi = zone(tz)
    at = start.astimezone(zi)
    first = "DAYLIGHT" if at.dst() else "STANDARD"  # summer time is a DAYLIGHT component
    lines = [
        "BEGIN:VTIMEZONE",
        f"TZID:{tz}",
        f"BEGIN:{first}",
        f"DTSTART:{at.strftime('%Y%m%dT%H%M%S')}",
        f"TZOFFSETFROM:{_offset(at.utcoffset())}",
        f"TZOFFSETTO:{_offset(at.utcoffset())}",
        f"TZNAME:{_escape(at.tzname() or tz)}",
        f"END:{first}",
    ]
    for change in transitions(tz, start, end):
        before = (change - timedelta(seconds=1)).astimezone(zi).utcoffset() or timedelta(0)
        after = change.astimezone(zi)
        kind = "DAYLIGHT" if after.dst() else "STANDARD"
        wall = (change + before).replace(tzinfo=None)  # the local clock just before the change
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:{wall.strftime('%Y%m%dT%H%M%S')}",
            f"TZOFFSETFROM:{_offset(before)}",
            f"TZOFFSETTO:{_offset(after.utcoffset())}",
            f"TZNAME:{_escape(after.tzname() or tz)}",
            f"END:{kind}",
        ]
    lines.append("END:VTIMEZONE")
    return lines


def shift_uid(shift: Shift, team: str) -> str:
    key = f"{team}|{shift.rotation}|{shift.member}|{shift.start.isoformat()}|{shift.source}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@chatops"


def shifts_calendar(
    spec: RotaSpec,
    shifts: list[Shift],
    *,
    stamp: datetime,
    tz: str | None = None,
    name: str | None = None,
) -> str:
    """A VCALENDAR with one VEVENT per shift; times in UTC, or local to `tz` with its TZID."""
    names = {m.id: m.name for m in spec.members}
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(name or spec.team.name + ' on-call')}",
    ]
    if tz is not None:
        lines.append(f"X-WR-TIMEZONE:{tz}")
        if shifts:
            lines += vtimezone(
                tz, min(s.start for s in shifts), max(s.end for s in shifts) + timedelta(hours=1)
            )

    def when(prop: str, dt: datetime) -> str:
        # A local time the clock shows twice (fall back) reads as its first occurrence
        # (RFC 5545 3.3.5): an instant in the second one is written in UTC instead.
        if tz is None or dt.astimezone(zone(tz)).fold:
            return f"{prop}:{_stamp(dt)}"
        return f"{prop};TZID={tz}:{_local(dt, tz)}"

    for shift in shifts:
        who = names.get(shift.member, shift.member)
        what = shift.rotation or "team-wide cover"
        kind = " (override)" if shift.source == "override" else ""
        lines += [
            "BEGIN:VEVENT",
            f"UID:{shift_uid(shift, spec.team.name)}",
            f"DTSTAMP:{_stamp(stamp)}",
            when("DTSTART", shift.start),
            when("DTEND", shift.end),
            f"SUMMARY:{_escape(f'On call: {who} — {what}{kind}')}",
            f"DESCRIPTION:{_escape(f'{spec.team.name} rota; layer {shift.layer}; {shift.member}')}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
