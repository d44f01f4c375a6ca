"""Shifts as an RFC 5545 calendar, so people can see their on-call time in their own calendar.

Written by hand (it is a small, strict format): CRLF line ends, lines folded at 75 octets,
text escaped, instants in UTC (`...Z`), and a stable UID per shift so re-imports update events
instead of duplicating them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from rota.resolve import Shift
from rota.spec import RotaSpec

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


def shift_uid(shift: Shift, team: str) -> str:
    key = f"{team}|{shift.rotation}|{shift.member}|{shift.start.isoformat()}|{shift.source}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@chatops"


def shifts_calendar(spec: RotaSpec, shifts: list[Shift], *, stamp: datetime) -> str:
    """A VCALENDAR with one VEVENT per shift."""
    names = {m.id: m.name for m in spec.members}
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(spec.team.name + ' on-call')}",
    ]
    for shift in shifts:
        who = names.get(shift.member, shift.member)
        what = shift.rotation or "team-wide cover"
        kind = " (override)" if shift.source == "override" else ""
        lines += [
            "BEGIN:VEVENT",
            f"UID:{shift_uid(shift, spec.team.name)}",
            f"DTSTAMP:{_stamp(stamp)}",
            f"DTSTART:{_stamp(shift.start)}",
            f"DTEND:{_stamp(shift.end)}",
            f"SUMMARY:{_escape(f'On call: {who} — {what}{kind}')}",
            f"DESCRIPTION:{_escape(f'{spec.team.name} rota; layer {shift.layer}; {shift.member}')}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
