"""Display of instants: UTC for the record, each member's local time for the humans.

Display only (docs/architecture.md, invariant 1): nothing here feeds back into computation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rota.wallclock import zone


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: only aware datetimes are displayed")


def fmt_utc(dt: datetime) -> str:
    """``2027-03-14T02:30:00Z``: whole seconds (truncated), always UTC."""
    _require_aware(dt)
    return dt.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_utc_words(dt: datetime) -> str:
    """``2027-03-14 02:30 UTC``: an instant for people to read where no one zone is theirs
    (a channel post); `fmt_utc` is for machines."""
    _require_aware(dt)
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_offset(offset: timedelta) -> str:
    """``UTC+05:45`` / ``UTC-04:00`` / ``UTC``."""
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def fmt_local(dt: datetime, tz: str) -> str:
    """``2027-03-14 03:00 EDT (UTC-04:00)``: local wall time with abbreviation and offset.

    The offset is always shown because abbreviations are ambiguous (IST, CST) and some zones
    have none (Asia/Kathmandu reads ``+0545``, shown as the offset alone).
    """
    _require_aware(dt)
    local = dt.astimezone(zone(tz))
    offset = local.utcoffset() or timedelta(0)
    abbr = local.tzname() or ""
    off = fmt_offset(offset)
    if not abbr or abbr[0] in "+-" or abbr == "UTC":
        return f"{local:%Y-%m-%d %H:%M} {off}"
    return f"{local:%Y-%m-%d %H:%M} {abbr} ({off})"
