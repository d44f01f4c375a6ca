"""The team report as JSON and as plain text, for the CLI (chat renders its own blocks).

Both say the same things as the charts: counts, nearest-rank p50/p90 durations, hours. JSON
instants are UTC with `Z`, durations whole seconds, hours two decimals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chatops.reports.figures import Durations, TeamReport


def _utc(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


def duration(value: timedelta | None) -> str:
    """`7 min`, `2.5 h`, `3.2 d`; `–` for none."""
    if value is None:
        return "–"
    minutes = value / timedelta(minutes=1)
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _durations(d: Durations) -> dict[str, Any]:
    return {"count": d.count, "p50_seconds": _seconds(d.p50), "p90_seconds": _seconds(d.p90)}


def as_dict(report: TeamReport, *, exposure: bool) -> dict[str, Any]:
    """The report as JSON-ready data; `exposure_hours` only when `exposure` and computed."""
    c = report.cases
    out: dict[str, Any] = {
        "team": report.team,
        "from": _utc(report.start),
        "to": _utc(report.end),
        "cases": {
            "total": c.total,
            "restricted": c.restricted,
            "by_type": c.by_type,
            "unacknowledged": c.unacknowledged,
            "unresolved": c.unresolved,
        },
        "time_to_acknowledge": _durations(c.acknowledge),
        "time_to_resolve": _durations(c.resolve),
        "on_call": [
            {
                "member": m.member,
                "name": m.name,
                "tz": m.tz,
                "hours": round(m.hours, 2),
                "night_hours": round(m.night, 2),
                "weekend_hours": round(m.weekend, 2),
                "weekday_day_hours": round(m.weekday_day, 2),
                "weekday_night_hours": round(m.weekday_night, 2),
            }
            for m in report.on_call
        ],
    }
    if exposure and report.exposure_hours is not None:
        out["exposure_hours"] = {k: round(v, 2) for k, v in report.exposure_hours.items()}
    return out


def as_text(report: TeamReport, *, exposure: bool) -> str:
    """The report for a terminal: one table per figure."""
    c = report.cases
    lines = [
        f"{report.team}: report from {_utc(report.start)} to {_utc(report.end)}",
        "",
        f"Cases opened: {c.total} ({c.restricted} restricted; counts only)",
    ]
    severities = list(next(iter(c.by_type.values())).keys()) if c.by_type else []
    lines.append(f"  {'type':<20}" + "".join(f"{s:>6}" for s in severities) + f"{'total':>7}")
    for case_type, row in c.by_type.items():
        cells = "".join(f"{row.get(s, 0):>6}" for s in severities)
        lines.append(f"  {case_type:<20}{cells}{sum(row.values()):>7}")
    totals = "".join(f"{c.severity_total(s):>6}" for s in severities)
    lines.append(f"  {'all':<20}{totals}{c.total:>7}")
    lines += [
        "",
        f"Time to acknowledge: p50 {duration(c.acknowledge.p50)}, p90 "
        f"{duration(c.acknowledge.p90)} ({c.acknowledge.count} acknowledged; "
        f"{c.unacknowledged} never acknowledged)",
        f"Time to resolve:     p50 {duration(c.resolve.p50)}, p90 {duration(c.resolve.p90)} "
        f"({c.resolve.count} resolved; {c.unresolved} still open)",
        "",
        "On-call hours (nights 23:00–06:00 and weekends in each member's own zone):",
        f"  {'member':<24} {'hours':>8} {'night':>8} {'weekend':>8}",
    ]
    lines += [
        f"  {m.name:<24} {m.hours:>8.1f} {m.night:>8.1f} {m.weekend:>8.1f}" for m in report.on_call
    ]
    if exposure and report.exposure_hours is not None:
        names = {m.member: m.name for m in report.on_call}
        lines += ["", "Exposure hours (managers only):"]
        lines += [
            f"  {names.get(k, k):<24} {v:>8.1f}" for k, v in sorted(report.exposure_hours.items())
        ] or ["  nobody held a graphic case in this window"]
    return "\n".join(lines)
