"""The team report as pictures: cases by type and severity, time to acknowledge and to resolve,
on-call hours per member (weekday days, weekday nights, weekends), exposure hours (managers).

Drawn like the rota plot (chatops/oncall/plot.py): matplotlib's object API on the Agg canvas, no
pyplot, so no display and no global state, and a server thread or a test can draw at once. Each
chart has a fixed pixel size (`size_of`), so the one posted to Slack reads the same every time.
Only counts and durations are drawn: no case text, ever (invariant 6).
"""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from chatops.blockkit import Attachment
from chatops.casetypes import Severity
from chatops.reports.figures import Durations, TeamReport

DPI = 100
WIDTH_PX = 1000
BASE_PX = 160  # title, axis and legend
ROW_PX = 42  # one bar of a horizontal chart
TIMES_PX = 450
SEVERITY_COLOURS = {
    Severity.sev1.value: "#b2182b",
    Severity.sev2.value: "#ef8a62",
    Severity.sev3.value: "#67a9cf",
    Severity.sev4.value: "#2166ac",
}
HOUR_PARTS = (
    ("weekday day", "#9ecae1"),
    ("weekday night (23:00–06:00)", "#3182bd"),
    ("weekend (Sat–Sun)", "#fd8d3c"),
)

CASES, TIMES, ON_CALL, EXPOSURE = "cases", "times", "on-call", "exposure"


def size_of(chart: str, rows: int = 0) -> tuple[int, int]:
    """The PNG's (width, height) in pixels: `rows` bars for the horizontal charts."""
    if chart == TIMES:
        return WIDTH_PX, TIMES_PX
    return WIDTH_PX, BASE_PX + ROW_PX * max(rows, 1)


def _figure(size: tuple[int, int]) -> Figure:
    width, height = size
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _margins(fig: Figure, height: int, left: float = 0.22) -> None:
    fig.subplots_adjust(left=left, right=0.97, top=1 - 80 / height, bottom=75 / height)


def _legend(ax: Axes, columns: int) -> None:
    """The legend in a row between the title and the plot, where it hides no bar."""
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=columns, fontsize=8, frameon=False)


def _period(report: TeamReport) -> str:
    return f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"


def cases_chart(report: TeamReport) -> Figure:
    """Cases opened, one bar per type, stacked by severity."""
    types = list(report.cases.by_type)
    size = size_of(CASES, len(types))
    fig = _figure(size)
    ax = fig.add_subplot()
    left = [0] * len(types)
    for severity, colour in SEVERITY_COLOURS.items():
        counts = [report.cases.by_type[t].get(severity, 0) for t in types]
        ax.barh(types, counts, left=left, color=colour, label=severity, height=0.6)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    for row, total in enumerate(left):
        if total:
            ax.text(total, row, f" {total}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("cases opened")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max([*left, 1]) * 1.12)
    _legend(ax, 4)
    ax.set_title(
        f"{report.team}: {report.cases.total} case(s) by type and severity, {_period(report)}",
        fontsize=10,
        pad=22,
    )
    _margins(fig, size[1])
    return fig


def _minutes(value: timedelta | None) -> float:
    return value / timedelta(minutes=1) if value is not None else 0.0


def _label(value: timedelta | None) -> str:
    if value is None:
        return "–"
    minutes = value / timedelta(minutes=1)
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def times_chart(report: TeamReport) -> Figure:
    """Time to acknowledge and to resolve, p50 and p90, side by side (minutes, log scale when
    the slowest is a hundred times the fastest, so a five-minute ack stays visible)."""
    size = size_of(TIMES)
    fig = _figure(size)
    ax = fig.add_subplot()
    groups: list[tuple[str, Durations]] = [
        ("acknowledge", report.cases.acknowledge),
        ("resolve", report.cases.resolve),
    ]
    width = 0.36
    values: list[float] = []
    for i, (name, colour) in enumerate((("p50", "#4e79a7"), ("p90", "#e15759"))):
        xs = [g + (i - 0.5) * width for g in range(len(groups))]
        picked = [getattr(d, name) for _, d in groups]
        heights = [_minutes(v) for v in picked]
        values += [h for h in heights if h > 0]
        bars = ax.bar(xs, heights, width=width, color=colour, label=name)
        ax.bar_label(bars, labels=[_label(v) for v in picked], fontsize=8, padding=2)
    ax.set_xticks(
        range(len(groups)), [f"time to {name}\n({d.count} case(s))" for name, d in groups]
    )
    if values and max(values) / min(values) >= 100:
        ax.set_yscale("log")
        ax.set_ylabel("minutes (log scale)")
    else:
        ax.set_ylabel("minutes")
    ax.margins(y=0.15)
    _legend(ax, 2)
    ax.set_title(
        f"{report.team}: time to acknowledge and to resolve, {_period(report)}",
        fontsize=10,
        pad=22,
    )
    _margins(fig, size[1], left=0.1)
    return fig


def on_call_chart(report: TeamReport) -> Figure:
    """On-call hours per member, stacked: weekday days, weekday nights, weekends (local)."""
    members = report.on_call
    size = size_of(ON_CALL, len(members))
    fig = _figure(size)
    ax = fig.add_subplot()
    names = [m.name for m in members]
    parts = (
        [m.weekday_day for m in members],
        [m.weekday_night for m in members],
        [m.weekend for m in members],
    )
    left = [0.0] * len(members)
    for (label, colour), hours in zip(HOUR_PARTS, parts, strict=True):
        ax.barh(names, hours, left=left, color=colour, label=label, height=0.6)
        left = [a + b for a, b in zip(left, hours, strict=True)]
    for row, m in enumerate(members):
        if m.hours:
            ax.text(m.hours, row, f" {m.hours:.0f} h", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("hours on call (nights and weekends in each member's own zone)")
    ax.set_xlim(0, max([*left, 1.0]) * 1.12)
    _legend(ax, 3)
    ax.set_title(f"{report.team}: on-call hours per member, {_period(report)}", fontsize=10, pad=22)
    _margins(fig, size[1])
    return fig


def exposure_chart(report: TeamReport) -> Figure:
    """Exposure hours per member (graphic cases); managers only."""
    hours = report.exposure_hours or {}
    names = {m.member: m.name for m in report.on_call}
    rows = sorted(hours.items(), key=lambda kv: (-kv[1], names.get(kv[0], kv[0])))
    size = size_of(EXPOSURE, len(rows))
    fig = _figure(size)
    ax = fig.add_subplot()
    ax.barh([names.get(m, m) for m, _ in rows], [h for _, h in rows], color="#76448a", height=0.6)
    ax.invert_yaxis()
    ax.set_xlabel("hours on graphic cases")
    ax.set_title(
        f"{report.team}: exposure hours (managers only), {_period(report)}", fontsize=10, pad=22
    )
    _margins(fig, size[1])
    return fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes, at its own pixel size."""
    out = BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def report_charts(report: TeamReport, *, exposure: bool) -> list[Attachment]:
    """Every chart of `report` as PNG attachments; the exposure chart only when `exposure`
    (a manager, or the operator's CLI) and the report has the figures."""
    stamp = f"{report.start:%Y%m%d}-{report.end:%Y%m%d}"
    charts = [
        (CASES, "Cases by type and severity", cases_chart(report)),
        (TIMES, "Time to acknowledge and to resolve", times_chart(report)),
        (ON_CALL, "On-call hours per member", on_call_chart(report)),
    ]
    if exposure and report.exposure_hours:  # no chart of nothing
        charts.append((EXPOSURE, "Exposure hours (managers only)", exposure_chart(report)))
    return [
        Attachment(filename=f"report-{name}-{stamp}.png", title=title, data=png(fig))
        for name, title, fig in charts
    ]
