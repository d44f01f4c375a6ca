"""The rota plot (a PNG of the right size, DST days at their real length, bad input refused)
and calendar feeds (the feed equals `rota shifts --json`; a revoked token is a bare 404)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
from matplotlib.dates import date2num, num2date
from matplotlib.image import imread
from slack_bolt import App

from chatops.clock import ManualClock
from chatops.db import Database
from chatops.oncall.feeds import feed_server, issue_token
from chatops.oncall.plot import draw, figure_size, local_midnights
from chatops.slack.http import SlackHttpServer
from chatops.team import actor_for_slack_id
from commands.registry import dispatch
from rota.resolve import compile_rota
from rota.store import find_team
from rota.yamlio import load_rota_yaml
from tests.support.clirun import EXAMPLE, chatops
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)
AMIRA, LUKAS = "U01AHADDAD", "U01LBECKER"


def test_plot_writes_a_png_of_the_expected_size(tmp_path: Path) -> None:
    out = tmp_path / "rota.png"
    result = chatops(
        "rota", "plot", str(EXAMPLE), "--from", "2027-03-25T00:00Z", "--to", "2027-04-02T00:00Z",
        "--tz", "Europe/Berlin", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = imread(out)
    rows = len(load_rota_yaml(EXAMPLE).rotations) + 1  # + the coverage row
    width, height = figure_size(rows)
    assert image.shape[:2] == (height, width)


def test_a_dst_day_spans_23_hours_on_the_axis() -> None:
    start, end = datetime(2027, 3, 26, tzinfo=UTC), datetime(2027, 3, 31, tzinfo=UTC)
    fig = draw(compile_rota(load_rota_yaml(EXAMPLE)), start, end, "Europe/Berlin")
    ax = fig.axes[0]
    ticks = [num2date(x) for x in ax.get_xticks()]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == local_midnights("Europe/Berlin", start, end)
    lengths = {
        label.split("\n")[0]: (b - a).total_seconds() / 3600
        for label, a, b in zip(labels, ticks, ticks[1:], strict=False)
    }
    assert lengths["Sun 28 Mar"] == 23  # Europe springs forward on 28 March 2027
    assert lengths["Sat 27 Mar"] == 24 and lengths["Mon 29 Mar"] == 24
    assert "Sun 28 Mar\n(23 h)" in labels
    assert ax.get_xlim() == (date2num(start), date2num(end))


def test_plot_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    base = ("rota", "plot", str(EXAMPLE), "--from", "2027-03-25T00:00Z")
    cases = [
        (("--to", "2028-04-25T00:00Z", "--out", str(tmp_path / "a.png")), "a year at most"),
        (("--to", "2027-03-26T00:00Z", "--tz", "Mars/Base", "--out", str(tmp_path / "b.png")),
         "unknown time zone"),
        (("--to", "2027-03-26T00:00Z", "--out", str(tmp_path / "no" / "c.png")), "cannot write"),
    ]  # fmt: skip
    for extra, reason in cases:
        result = chatops(*base, *extra, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def _events(calendar: str) -> list[tuple[str, str]]:
    parsed = icalendar.Calendar.from_ical(calendar)
    out = []
    for event in parsed.walk("VEVENT"):
        a, b = event["DTSTART"].dt, event["DTEND"].dt
        assert a.tzinfo is not None
        out.append(
            (
                a.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                b.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )
    return out


def test_feed_equals_rota_shifts_json_and_revoked_tokens_get_404(
    sqlite_db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    example_team_context(sqlite_db, AMIRA, NOW)
    with sqlite_db.transaction() as session:
        team = find_team(session)
        actor = actor_for_slack_id(session, team, AMIRA)
    assert team.id is not None
    with sqlite_db.transaction() as session:
        first = issue_token(session, team_id=team.id, actor=actor, now=NOW)
    assert first.token is not None and len(first.token) >= 43
    with sqlite_db.transaction() as session:
        again = issue_token(session, team_id=team.id, actor=actor, now=NOW)
    assert again.token is None  # only its hash is kept: it cannot be shown twice
    app = App(signing_secret="x", token="xoxb-x", token_verification_enabled=False)
    server = SlackHttpServer(
        app, host="127.0.0.1", port=0, feeds=feed_server(sqlite_db, ManualClock(NOW))
    )
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}/ical/"
        with urllib.request.urlopen(f"{base}{first.token}.ics") as response:
            assert response.headers["Content-Type"].startswith("text/calendar")
            body = response.read().decode()
        assert "DTSTART;TZID=Europe/Berlin:" in body and "BEGIN:VTIMEZONE" in body
        result = chatops(
            "rota", "shifts", "--json", "--member", AMIRA,
            "--from", (NOW - timedelta(days=7)).isoformat(),
            "--to", (NOW + timedelta(days=90)).isoformat(),
            cwd=tmp_path, env={"DATABASE_URL": sqlite_url},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        expected = [(s["start"], s["end"]) for s in json.loads(result.stdout)["shifts"]]
        assert expected and _events(body) == expected
        # A DST-crossing shift reads back at its real instants (checked above); reset revokes.
        with sqlite_db.transaction() as session:
            fresh = issue_token(session, team_id=team.id, actor=actor, now=NOW, reset=True)
        assert fresh.token is not None and fresh.revoked == 1
        for token in (first.token, "A" * 43, "bad"):
            try:
                urllib.request.urlopen(f"{base}{token}.ics")
                raise AssertionError("a revoked or unknown token must not open a feed")
            except urllib.error.HTTPError as error:
                assert error.code == 404 and error.read() == b""
        with urllib.request.urlopen(f"{base}{fresh.token}.ics") as response:
            assert _events(response.read().decode()) == expected
    finally:
        server.stop()


def test_ical_verb_links_and_team_feed_is_for_managers(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, AMIRA, NOW)
    assert "CHATOPS_PUBLIC_URL is unset" in dispatch("ical", ctx).text
    from dataclasses import replace

    ctx = replace(ctx, public_url="https://chatops.example.org")
    link = dispatch("ical", ctx).text
    assert "webcal://chatops.example.org/ical/" in link and ".ics" in link
    assert "cannot be shown again" in dispatch("ical", ctx).text
    assert "no longer works" in dispatch("ical reset", ctx).text
    assert "only managers" in dispatch("ical team", ctx).text
    lukas = replace(example_team_context(sqlite_db, LUKAS, NOW), public_url="https://x.org")
    assert "webcal://x.org/ical/" in dispatch("ical team", lukas).text
