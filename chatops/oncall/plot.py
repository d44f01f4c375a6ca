"""The rota as a picture: every rotation's shifts on one timeline, member names on the bars.

For a manager's eye: where the gaps are (red), who carries the nights, how a DST change moves
things. The x axis is real time, so a day is as wide as it is long: a spring-forward day is 23
hours wide and a fall-back day 25, and the day's label says so. Ticks are placed at local hours
of the chosen zone. Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display,
no global state), so it runs in a server or a test alike.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from rota.coverage import coverage_gaps
from rota.resolve import CompiledRota
from rota.wallclock import from_ts, wall_to_ts, zone

WIDTH_IN = 16.0
ROW_IN = 0.55
EXTRA_IN = 1.6
DPI = 100
MAX_WINDOW = timedelta(days=366)
GAP = "#d62728"
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#bab0ac",
    "#86bcb6",
    "#ff9d9a",
)


def figure_size(rows: int) -> tuple[int, int]:
    """The PNG's pixel size for a timeline of `rows` rows (rotations, team-wide, coverage)."""
    return int(WIDTH_IN * DPI), int((EXTRA_IN + ROW_IN * rows) * DPI)


def local_midnights(tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Each local midnight in [start, end] in `tz`, as aware UTC instants (DST rules)."""
    zi = zone(tz)
    day: date = start.astimezone(zi).date()
    out: list[datetime] = []
    while True:
        at = from_ts(wall_to_ts(datetime.combine(day, time(0)), zi))
        if at > end:
            return out
        if at >= start:
            out.append(at)
        day += timedelta(days=1)


def _hour_ticks(tz: str, start: datetime, end: datetime, every: int) -> list[datetime]:
    zi = zone(tz)
    out: list[datetime] = []
    day = start.astimezone(zi).date()
    while True:
        for hour in range(every, 24, every):
            at = from_ts(wall_to_ts(datetime.combine(day, time(hour)), zi))
            if start <= at <= end and (not out or at > out[-1]):
                out.append(at)
        day += timedelta(days=1)
        if from_ts(wall_to_ts(datetime.combine(day, time(0)), zi)) > end:
            return out


def draw(compiled: CompiledRota, start: datetime, end: datetime, tz: str) -> Figure:
    """The timeline of [start, end) with ticks at local hours of `tz`."""
    spec = compiled.spec
    names = {m.id: m.name for m in spec.members}
    colours = {m.id: PALETTE[i % len(PALETTE)] for i, m in enumerate(spec.members)}
    shifts = compiled.shifts(start, end)
    labels = [f"{r.name} ({r.layer})" for r in spec.rotations]
    has_team = any(s.rotation is None for s in shifts)
    if has_team:
        labels.append("team-wide")
    labels.append("coverage")
    row_of = {r.name: i for i, r in enumerate(spec.rotations)}
    width, height = figure_size(len(labels))
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x0, x1 = float(date2num(start)), float(date2num(end))
    span = x1 - x0

    for s in shifts:
        row = row_of[s.rotation] if s.rotation is not None else len(spec.rotations)
        a, b = max(float(date2num(s.start)), x0), min(float(date2num(s.end)), x1)
        if b <= a:
            continue
        override = s.source == "override"
        ax.broken_barh(
            [(a, b - a)],
            (row - 0.38, 0.76),
            facecolors=colours.get(s.member, "#999999"),
            edgecolors="white",
            hatch="//" if override else None,
            linewidth=0.6,
        )
        if (b - a) / span > 0.035:
            ax.text(
                (a + b) / 2,
                row,
                names.get(s.member, s.member),
                ha="center",
                va="center",
                fontsize=7,
                clip_on=True,
            )
    coverage_row = len(labels) - 1
    gaps = coverage_gaps(compiled, start, end)
    for g in gaps:
        a, b = float(date2num(g.start)), float(date2num(g.end))
        ax.axvspan(a, b, color=GAP, alpha=0.15, linewidth=0)
        ax.broken_barh([(a, b - a)], (coverage_row - 0.38, 0.76), facecolors=GAP)
    if not gaps:
        ax.text((x0 + x1) / 2, coverage_row, "covered", ha="center", va="center", fontsize=8)

    ax.set_xlim(x0, x1)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    days = local_midnights(tz, start, end)
    ax.set_xticks([float(date2num(d)) for d in days], [_day_label(d, tz) for d in days])
    ax.tick_params(axis="x", which="major", labelsize=7, length=8)
    hours = (end - start).total_seconds() / 3600
    every = 1 if hours <= 72 else 6 if hours <= 24 * 16 else 0
    if every:
        minor = _hour_ticks(tz, start, end, every)
        ax.set_xticks(
            [float(date2num(m)) for m in minor],
            [f"{m.astimezone(zone(tz)):%H}" for m in minor] if every == 6 or hours <= 48 else [],
            minor=True,
        )
        ax.tick_params(axis="x", which="minor", labelsize=6, length=3)
    ax.grid(axis="x", which="major", color="#888888", linewidth=0.5, alpha=0.6)
    ax.set_axisbelow(True)
    title = (
        f"{spec.team.name}: {start.astimezone(zone(tz)):%Y-%m-%d %H:%M} to "
        f"{end.astimezone(zone(tz)):%Y-%m-%d %H:%M} ({tz}); gaps in red, overrides hatched"
    )
    ax.set_title(title, fontsize=10)
    fig.subplots_adjust(
        left=0.12, right=0.99, top=1 - 0.45 / (height / DPI), bottom=0.9 / (height / DPI)
    )
    return fig


def _day_label(midnight: datetime, tz: str) -> str:
    """`Sun 29 Mar`, with the day's real length when DST makes it 23 or 25 hours."""
    zi = zone(tz)
    local = midnight.astimezone(zi)
    day = local.date() + timedelta(days=1)
    nxt = from_ts(wall_to_ts(datetime.combine(day, time(0)), zi))
    hours = (nxt - midnight).total_seconds() / 3600
    label = f"{local:%a %d %b}"
    return label if hours == 24 else f"{label}\n({hours:g} h)"


def save(fig: Figure, out: Path) -> None:
    """Write the figure as PNG (OSError when the path cannot be written)."""
    fig.savefig(out, format="png", dpi=DPI)
