"""`/ts report week` and `/ts rota show chart` over real signed HTTP: the answer goes to the asker
(ephemeral), and the charts reach the asker's DM through Slack's two-step upload at the fake Web
API: files.getUploadURLExternal (name, length) → the bytes to the upload URL →
files.completeUploadExternal in the DM. Never in the channel, never with a case's text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from chatops.cases.models import Case
from chatops.db import Database
from chatops.oncall.plot import figure_size
from chatops.reports.charts import CASES, ON_CALL, TIMES, size_of
from tests.support.clirun import chatops
from tests.support.fakeslack import UPLOAD_URL, FakeSlack, Scripted, error, server_error
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, LUKAS, NOBODY, NOW, Served, example_rota, serve, texts

SECRET_TEXT = "very secret summary of a restricted case"


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _add_cases(served: Served) -> None:
    with served.db.transaction() as session:
        from rota.store import find_team

        team = find_team(session, None)
        assert team.id is not None
        for i, (kind, restricted) in enumerate(
            [("child-safety", True), ("harassment", False)], start=1
        ):
            opened = NOW - timedelta(days=2)
            session.add(
                Case(
                    team_id=team.id,
                    key=f"TS-2027-{i:04d}",
                    type=kind,
                    severity="sev2",
                    summary=SECRET_TEXT,
                    restricted=restricted,
                    reporter=AMIRA,
                    opened_at=opened,
                    acknowledged_at=opened + timedelta(minutes=4 * i),
                )
            )


def test_report_week_answers_the_asker_and_uploads_the_charts_to_their_dm(
    served: Served,
) -> None:
    _add_cases(served)

    assert served.command("report week", user=AMIRA).status == 200

    answer = served.answer(timeout=30)
    assert answer["response_type"] == "ephemeral"
    shown = texts(answer["blocks"])
    assert "*2* case(s) opened (1 restricted: counted only)" in shown
    assert "p50 4 min · p90 8 min" in shown
    assert "Amira Haddad" in shown and "Exposure" not in shown
    complete = served.fake.wait_for("files.completeUploadExternal", timeout=30)[0]
    (dm,) = served.fake.calls_to("conversations.open")
    assert dm.args["users"] == AMIRA
    tickets = served.fake.calls_to("files.getUploadURLExternal")
    uploads = served.fake.calls_to(UPLOAD_URL)
    assert len(tickets) == len(uploads) == 3
    members = len(example_rota().members)
    expected = {
        "cases": size_of(CASES, 7),
        "times": size_of(TIMES),
        "on": size_of(ON_CALL, members),
    }
    ids = []
    for ticket, upload in zip(tickets, uploads, strict=True):
        file_id = upload.response_id
        assert file_id is not None
        name, length = served.fake.upload_tickets[file_id]
        assert name == ticket.args["filename"] and length == len(upload.body)
        assert _png_size(upload.body) == expected[name.split("-")[1]]
        assert upload.token is None  # the upload URL carries its own authority
        ids.append(file_id)
    # One message in the asker's DM shares all three; the channel got nothing.
    assert complete.args["channel_id"] == "D" + AMIRA[1:9]
    assert [f["id"] for f in json.loads(complete.args["files"])] == ids
    assert "Cases by type and severity" in complete.args["initial_comment"]
    assert served.fake.calls_to("chat.postMessage") == []
    everything = json.dumps([c.args for c in served.fake.calls])
    assert SECRET_TEXT not in everything


@pytest.mark.parametrize(
    ("method", "answer", "reason"),
    [
        ("files.completeUploadExternal", error("not_in_channel"), "not_in_channel"),
        (UPLOAD_URL, server_error(503), "upload refused (http 503)"),
    ],
)
def test_a_failed_upload_tells_the_asker_with_a_reference(
    served: Served, method: str, answer: Scripted, reason: str
) -> None:
    served.fake.script(method, answer)

    served.command("report month", user=LUKAS)

    served.answer(timeout=30)
    warning = served.answer(count=2, timeout=30)
    assert f"charts could not be sent to you ({reason})" in warning["text"]
    assert "Reference `" in warning["text"]


@pytest.mark.parametrize(
    ("text", "user", "expected"),
    [
        ("report year", AMIRA, "unknown period `year`"),
        ("report 2027-03-10 to 2027-03-01", AMIRA, "end is before its start"),
        ("report 2026-01-01 to 2027-03-01", AMIRA, "a year at most"),
        ("report week", NOBODY, "not a member"),
        ("rota show chart days:99", AMIRA, "days:N takes 1 to 31"),
    ],
)
def test_bad_windows_and_strangers_get_one_line_and_no_upload(
    served: Served, text: str, user: str, expected: str
) -> None:
    served.command(text, user=user)

    answer = served.answer(timeout=30)
    assert expected in answer["text"]
    if user != NOBODY:
        assert "Usage: `/ts " in answer["text"]
    assert served.fake.calls_to("files.getUploadURLExternal") == []


def test_rota_show_chart_posts_the_next_week_to_the_asker(served: Served) -> None:
    served.command("rota show chart", user=AMIRA)

    answer = served.answer(timeout=30)
    assert "as a chart sent to you alone" in answer["text"]
    complete = served.fake.wait_for("files.completeUploadExternal", timeout=30)[0]
    (upload,) = served.fake.calls_to(UPLOAD_URL)
    rows = len(example_rota().rotations) + 1  # + the coverage row
    assert _png_size(upload.body) == figure_size(rows)
    assert complete.args["channel_id"] == "D" + AMIRA[1:9]
    # The title names the team (rota text): escaped in the message that shares the file.
    assert complete.args["initial_comment"].startswith("Trust &amp; Safety rota, ")


def test_the_console_writes_the_charts_to_a_temporary_folder(tmp_path: Path) -> None:
    env = {"TMPDIR": str(tmp_path)}  # where `tempfile` makes the console's folder
    assert chatops("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    assert chatops("demo", cwd=tmp_path, env=env).returncode == 0
    result = chatops(
        "console", "--now", "2027-03-20T12:00:00Z",
        cwd=tmp_path, env=env, stdin="/ts report week\n/ts rota show chart days:2\n",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    paths = [
        Path(line.split(" ", 1)[1])
        for line in result.stdout.splitlines()
        if line.startswith("[file] ")
    ]
    assert [p.name.split("-")[1] for p in paths] == ["cases", "times", "on", "20270320"]
    for path in paths:
        assert path.parent.parent == tmp_path and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
