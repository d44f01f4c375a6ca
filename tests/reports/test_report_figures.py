"""The team report's figures against a hand-built data set: cases by type and severity, p50/p90
to acknowledge and to resolve, on-call hours with local nights and weekends across a DST change;
the CLI's text, JSON and charts; bad windows refused in one line."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.image import imread

from chatops.cases.exposure import ExposureSpan
from chatops.cases.models import Case
from chatops.db import Database
from chatops.reports.charts import CASES, ON_CALL, TIMES, report_charts, size_of
from chatops.reports.figures import (
    CaseTimes,
    case_figures,
    hour_figures,
    percentile,
    team_report,
)
from rota.resolve import compile_rota
from rota.spec import RotaSpec
from rota.store import save_rota
from rota.yamlio import load_rota_yaml
from tests.support.clirun import chatops

ANNA, BEN = "U0ANNA0000", "U0BEN00000"
# Anna (Berlin) holds the pager around the clock; Ben (New York) backs her up 22:00–02:00 his
# time. Europe springs forward on Sunday 28 March 2027; New York already did on 14 March.
ROTA = f"""
team: {{name: Night Owls, tz: UTC, channel: '#owls', required: 1}}
members:
  - {{id: {ANNA}, name: Anna Berg, tz: Europe/Berlin, role: manager}}
  - {{id: {BEN}, name: Ben Ortiz, tz: America/New_York}}
rotations:
  - name: main
    layer: primary
    tz: Europe/Berlin
    handoff: '0 0 * * mon'
    start: 2027-01-04T00:00:00+01:00
    participants: [{ANNA}]
  - name: late
    layer: secondary
    tz: America/New_York
    handoff: '0 0 * * mon'
    start: 2027-01-04T00:00:00-05:00
    participants: [{BEN}]
    restrictions:
      - {{days: [mon, tue, wed, thu, fri, sat, sun], from: '22:00', to: '02:00'}}
"""
# Friday 26 March 12:00 in Berlin (CET) to Monday 29 March 12:00 (CEST): 71 hours.
START = datetime(2027, 3, 26, 11, 0, tzinfo=UTC)
END = datetime(2027, 3, 29, 10, 0, tzinfo=UTC)


def rota() -> RotaSpec:
    return load_rota_yaml(ROTA)


def test_hours_split_into_local_nights_and_weekends_across_dst() -> None:
    hours = {m.member: m for m in hour_figures(compile_rota(rota()), START, END)}

    anna = hours[ANNA]
    assert anna.hours == 71  # the Sunday is 23 hours long in Berlin
    # Nights 23:00–06:00 Berlin: Fri→Sat 7 h, Sat→Sun 6 h (02:00–03:00 never happens), Sun→Mon 7 h.
    assert anna.night == 20
    # Saturday 00:00 CET to Monday 00:00 CEST.
    assert anna.weekend == 47
    assert anna.weekday_night == 7  # Friday 23:00–24:00 and Monday 00:00–06:00
    assert anna.weekday_day == 17  # Friday 12:00–23:00 and Monday 06:00–12:00

    ben = hours[BEN]  # 22:00–02:00 New York time, three times in the window
    assert ben.hours == 12
    assert ben.night == 9  # 23:00–02:00 each time
    assert ben.weekend == 8  # Sat 00–02, Sat 22–Sun 02, Sun 22–24 (his Saturday and Sunday)
    assert (ben.weekday_day, ben.weekday_night) == (1, 3)
    for m in hours.values():
        assert m.weekday_day + m.weekday_night + m.weekend == pytest.approx(m.hours)


def _case(
    case_type: str,
    severity: str,
    opened: datetime,
    ack: timedelta | None = None,
    done: timedelta | None = None,
    *,
    restricted: bool = False,
) -> CaseTimes:
    return CaseTimes(
        type=case_type,
        severity=severity,
        restricted=restricted,
        opened_at=opened,
        acknowledged_at=opened + ack if ack is not None else None,
        resolved_at=opened + done if done is not None else None,
    )


M = timedelta(minutes=1)
T0 = START + timedelta(hours=1)
HAND_BUILT = [
    _case("harassment", "sev3", T0, 2 * M, 60 * M),
    _case("harassment", "sev3", T0, 4 * M, 90 * M),
    _case("harassment", "sev2", T0, 6 * M, 30 * M),
    _case("child-safety", "sev1", T0, 8 * M, 600 * M, restricted=True),
    _case("self-harm", "sev2", T0, 100 * M, restricted=True),  # acknowledged, still open
    _case("terrorism", "sev1", T0, None, 20 * M),  # resolved without an acknowledgement
    _case("other", "sev4", T0),  # nobody touched it
    _case("other", "sev4", END - 5 * M, 10 * M),  # acknowledged after the window closed
]


def test_case_figures_of_a_hand_built_set() -> None:
    c = case_figures(HAND_BUILT, end=END)

    assert (c.total, c.restricted) == (8, 2)
    assert c.by_type["harassment"] == {"sev1": 0, "sev2": 1, "sev3": 2, "sev4": 0}
    assert c.type_total("other") == 2 and c.type_total("event-safety") == 0
    assert [c.severity_total(s) for s in ("sev1", "sev2", "sev3", "sev4")] == [2, 2, 2, 2]
    # Acknowledged in the window: 2, 4, 6, 8, 100 minutes → nearest rank 3 of 5 and 5 of 5.
    assert c.acknowledge.count == 5
    assert (c.acknowledge.p50, c.acknowledge.p90) == (6 * M, 100 * M)
    # Resolved: 20, 30, 60, 90, 600 minutes.
    assert c.resolve.count == 5
    assert (c.resolve.p50, c.resolve.p90) == (60 * M, 600 * M)
    assert c.unacknowledged == 2  # the untouched one, and the one acknowledged too late
    assert c.unresolved == 3


def test_no_cases_have_no_percentiles() -> None:
    c = case_figures([], end=END)
    assert c.total == 0 and c.acknowledge.p50 is None and c.resolve.p90 is None


@given(
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=100),
)
def test_percentile_is_the_nearest_rank(seconds: list[int], p: int) -> None:
    values = [timedelta(seconds=s) for s in seconds]
    # Oracle: the smallest observed value with at least p% of the values at or below it.
    oracle = min(
        v for v in values if sum(x <= v for x in values) >= math.ceil(p * len(values) / 100)
    )
    assert percentile(values, p) == oracle


def _store(db: Database) -> int:
    """The rota and the hand-built cases in the database; the team's id."""
    with db.transaction() as session:
        team = save_rota(session, rota())
        assert team.id is not None
        for i, c in enumerate(HAND_BUILT, start=1):
            session.add(
                Case(
                    team_id=team.id,
                    key=f"TS-2027-{i:04d}",
                    type=c.type,
                    severity=c.severity,
                    summary=f"secret summary {i}",
                    details="secret details",
                    restricted=c.restricted,
                    reporter=ANNA,
                    status="resolved" if c.resolved_at else "open",
                    opened_at=c.opened_at,
                    acknowledged_at=c.acknowledged_at,
                    resolved_at=c.resolved_at,
                )
            )
        # Outside the window: counted nowhere.
        session.add(
            Case(
                team_id=team.id,
                key="TS-2027-0099",
                type="harassment",
                severity="sev1",
                summary="before",
                reporter=ANNA,
                opened_at=START - timedelta(seconds=1),
            )
        )
        return team.id


def test_the_report_reads_the_window_from_the_database(db: Database) -> None:
    team_id = _store(db)
    with db.transaction() as session:
        report = team_report(session, team_id=team_id, start=START, end=END)

    assert report.cases == case_figures(HAND_BUILT, end=END)
    assert [m.hours for m in report.on_call] == [71, 12]
    assert report.exposure_hours == {}  # no graphic case was held


def test_the_report_counts_exposure_in_the_window_up_to_now(db: Database) -> None:
    """Anna held graphic cases 1 h before the window and 2.5 h in it, one still running."""
    team_id = _store(db)
    with db.transaction() as session:
        for case_id, started, ended in (
            (1, START - timedelta(hours=1), START + timedelta(hours=1)),
            (2, START + timedelta(hours=5), START + timedelta(hours=6)),
            (3, END - timedelta(minutes=30), None),
        ):
            session.add(
                ExposureSpan(
                    team_id=team_id, case_id=case_id, member=ANNA, started=started, ended=ended
                )
            )
    with db.transaction() as session:
        at_end = team_report(session, team_id=team_id, start=START, end=END, now=END)
        earlier = team_report(
            session, team_id=team_id, start=START, end=END, now=END - timedelta(minutes=10)
        )
    assert at_end.exposure_hours == {ANNA: 2.5}
    assert earlier.exposure_hours == {ANNA: pytest.approx(2 + 20 / 60)}


def test_each_chart_is_a_png_of_its_size() -> None:
    from chatops.reports.figures import TeamReport

    report = TeamReport(
        team="Night Owls",
        start=START,
        end=END,
        cases=case_figures(HAND_BUILT, end=END),
        on_call=hour_figures(compile_rota(rota()), START, END),
    )
    charts = report_charts(report, exposure=True)  # no exposure figures: no exposure chart
    sizes = {CASES: size_of(CASES, 7), TIMES: size_of(TIMES), ON_CALL: size_of(ON_CALL, 2)}
    assert [c.filename.split("-")[1] for c in charts] == ["cases", "times", "on"]
    for chart, (width, height) in zip(charts, sizes.values(), strict=True):
        assert chart.data[:8] == b"\x89PNG\r\n\x1a\n"
        assert _png_size(chart.data) == (width, height)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_the_cli_writes_the_figures_and_the_charts(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    _store(db)
    env = {"DATABASE_URL": database_url}
    out = tmp_path / "out"
    window = ("--from", "2027-03-26T11:00Z", "--to", "2027-03-29T10:00Z")

    result = chatops("report", *window, "--out", str(out), "--json", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["from"] == "2027-03-26T11:00:00Z" and found["to"] == "2027-03-29T10:00:00Z"
    assert found["cases"]["total"] == 8 and found["cases"]["restricted"] == 2
    assert found["cases"]["by_type"]["other"] == {"sev1": 0, "sev2": 0, "sev3": 0, "sev4": 2}
    assert found["time_to_acknowledge"] == {"count": 5, "p50_seconds": 360, "p90_seconds": 6000}
    assert found["time_to_resolve"] == {"count": 5, "p50_seconds": 3600, "p90_seconds": 36000}
    anna = found["on_call"][0]
    assert (anna["hours"], anna["night_hours"], anna["weekend_hours"]) == (71, 20, 47)
    assert "secret" not in result.stdout
    assert json.loads((out / "report.json").read_text()) == found
    pngs = sorted(out.glob("*.png"))
    assert [p.name.split("-")[1] for p in pngs] == ["cases", "on", "times"]
    for path in pngs:
        image = imread(path)
        kind = path.name.split("-")[1]
        expected = {"cases": size_of(CASES, 7), "on": size_of(ON_CALL, 2), "times": size_of(TIMES)}
        assert image.shape[1::-1] == expected[kind]

    text = chatops("report", *window, cwd=tmp_path, env=env)
    assert text.returncode == 0, text.stderr
    assert "Cases opened: 8 (2 restricted; counts only)" in text.stdout
    assert "p50 6 min, p90 100 min" in text.stdout
    assert "secret" not in text.stdout

    referrals = chatops("report", "referrals", *window, cwd=tmp_path, env=env)
    assert referrals.returncode == 0 and referrals.stdout.startswith("Referrals from")


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        (("--from", "2027-01-01", "--to", "2028-01-02"), "a year at most"),
        (("--from", "2027-03-10", "--to", "2027-03-01"), "end is before its start"),
        (("--from", "March", "--to", "2027-03-31"), "neither a day"),
        (("--from", "2027-03-01T00:00", "--to", "2027-03-31"), "no UTC offset"),
        (("--from", "2027-03-01",), "--from and --to are required"),
    ],
)  # fmt: skip
def test_a_bad_window_is_one_line_with_the_usage(
    tmp_path: Path, window: tuple[str, ...], reason: str
) -> None:
    out = tmp_path / "out"
    result = chatops(
        "report", *window, "--out", str(out),
        cwd=tmp_path, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"},
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "usage: chatops report" in lines[0]
    assert not out.exists() and not (tmp_path / "none.db").exists()


def test_exposure_hours_are_shown_to_managers_only_once_computed() -> None:
    from dataclasses import replace

    from chatops.reports.charts import EXPOSURE
    from chatops.reports.figures import TeamReport
    from chatops.reports.render import as_dict
    from commands.verbs.report import report_blocks

    base = TeamReport(
        team="Night Owls",
        start=START,
        end=END,
        cases=case_figures([], end=END),
        on_call=hour_figures(compile_rota(rota()), START, END),
    )
    report = replace(base, exposure_hours={ANNA: 3.5, BEN: 1.25})

    assert "exposure_hours" not in as_dict(report, exposure=False)
    assert as_dict(report, exposure=True)["exposure_hours"] == {ANNA: 3.5, BEN: 1.25}
    assert "exposure_hours" not in as_dict(base, exposure=True)
    member_view = json.dumps(report_blocks(report, "w", exposure=False))
    manager_view = json.dumps(report_blocks(report, "w", exposure=True))
    assert "Exposure" not in member_view
    assert "Anna Berg: 3.5 h" in manager_view and "Ben Ortiz: 1.2 h" in manager_view
    assert len(report_charts(report, exposure=False)) == 3
    charts = report_charts(report, exposure=True)
    assert charts[-1].filename.startswith("report-exposure-")
    assert _png_size(charts[-1].data) == size_of(EXPOSURE, 2)
