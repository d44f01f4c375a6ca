"""What new users type for a command is read as that command (commands/phrases.py)."""

from __future__ import annotations

import pytest

from chatops.db import Database
from commands.forms import form_for_command
from commands.registry import dispatch
from tests.support.served import LUKAS, NOW
from tests.support.teams import example_team_context


@pytest.mark.parametrize(
    "line",
    [
        "who",
        "who?",
        "who's on call",
        "Who’s on call?",
        "WHO IS ON CALL?",
        "who is on call now",
        "whos on call",
        "oncall",
        "on call",
        "who now",
    ],
)
def test_asking_who_is_on_call_in_words_answers_now(sqlite_db: Database, line: str) -> None:
    ctx = example_team_context(sqlite_db, LUKAS, NOW)
    assert dispatch(line, ctx).text == dispatch("who", ctx).text
    assert dispatch(line, ctx).text.startswith("On call now: ")


def test_who_takes_a_time_with_or_without_at(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, LUKAS, NOW)
    with_at = dispatch("who at tomorrow 09:00", ctx).text
    assert with_at.startswith("On call 2027-")
    assert dispatch("who tomorrow 09:00", ctx).text == with_at
    assert dispatch("who's on call tomorrow 09:00?", ctx).text == with_at
    refused = dispatch("who banana", ctx)
    assert not refused.ok and "/ts who [at <time>]" in refused.text


def test_case_phrases_open_list_show_and_resolve(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, LUKAS, NOW)
    assert dispatch("cases", ctx).text == "No open cases."
    opened = dispatch("open case harassment sev3 Spam ring in comments", ctx)
    assert opened.text.startswith(":white_check_mark: Opened *TS-2027-0001")
    assert "Spam ring in comments" in dispatch("case view TS-2027-0001", ctx).text
    assert "TS-2027-0001" in dispatch("Cases?", ctx).text
    assert dispatch("my cases", ctx).text == dispatch("case list mine", ctx).text
    assert dispatch("my shifts", ctx).text == dispatch("shifts", ctx).text
    closed = dispatch("close case TS-2027-0001 warned the account", ctx)
    assert closed.ok and "is resolved" in closed.text


def test_a_phrase_is_only_read_at_the_start_and_whole(sqlite_db: Database) -> None:
    ctx = example_team_context(sqlite_db, LUKAS, NOW)
    # "on call" inside a case's summary stays the summary's.
    opened = dispatch("case open harassment sev3 who is on call keeps getting DMs", ctx)
    assert opened.ok
    assert "who is on call keeps getting DMs" in dispatch("case show TS-2027-0001", ctx).text
    assert not dispatch("oncallx", ctx).ok  # not a phrase: an unknown command


@pytest.mark.parametrize("line", ["case open", "open case", "Open Case", "case new", "new case"])
def test_each_phrase_for_case_open_alone_opens_the_form(line: str) -> None:
    assert form_for_command(line) is not None


@pytest.mark.parametrize("line", ["case open harassment", "who", "cases"])
def test_other_lines_open_no_form(line: str) -> None:
    assert form_for_command(line) is None
