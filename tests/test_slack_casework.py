"""Issue #12 over real signed HTTP: `/ts case list` and withdrawing a swap request, as Slack
sends them to the served app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from chatops.db import Database
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import (
    AMIRA,
    ELENA,
    LUKAS,
    NOW,
    SOFIA,
    Served,
    button_values,
    first_shift,
    iso,
    serve,
)

_SHIFT = first_shift(AMIRA, "emea", NOW + timedelta(days=1))
SPAN = f"{iso(_SHIFT.start)} to {iso(_SHIFT.end)}"


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def test_case_list_over_http_hides_a_restricted_summary_from_others(served: Served) -> None:
    served.command("case open harassment sev3 Doxxing thread", user=AMIRA, rid="o1")
    served.answer("o1")
    served.command("case open self-harm sev2 Goodbye note on a user page", user=AMIRA, rid="o2")
    served.answer("o2")

    served.command("case list", user=SOFIA, rid="l1")
    listed = served.answer("l1")
    assert listed["response_type"] == "ephemeral"
    assert "2 open cases" in listed["text"]
    assert "Doxxing thread" in listed["text"]
    assert "TS-2027-0002 · self-harm · sev2* :lock: restricted" in listed["text"]
    assert "Goodbye" not in str(listed)

    served.command("case list", user=LUKAS, rid="l2")  # a manager
    assert "Goodbye note on a user page" in served.answer("l2")["text"]


def test_text_as_slack_sends_it_is_shown_escaped_once_and_markup_stays_inert(
    served: Served,
) -> None:
    """Slack sends a typed `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`: the bot reads what was
    typed and escapes it once, so Slack shows `Trust & Safety <3`, not `&amp;`; a typed
    `<!channel>` reaches every listing as text, never as a ping."""
    typed = "Trust &amp; Safety &lt;3 &lt;!channel&gt; <!channel> <https://evil.example|Ack>"
    served.command(f"case open harassment sev3 {typed}", user=AMIRA, rid="o1")
    served.answer("o1")

    served.command("case list", user=SOFIA, rid="l1")
    listed = served.answer("l1")["text"]
    assert "Trust &amp; Safety &lt;3 &lt;!channel&gt; &lt;!channel&gt;" in listed
    assert "&amp;amp;" not in listed and "&amp;lt;" not in listed
    assert "<!channel>" not in listed and "<https://evil.example" not in listed
    served.command("case show TS-2027-0001", user=AMIRA, rid="s1")
    shown = str(served.answer("s1"))
    assert "Trust &amp; Safety &lt;3" in shown and "&amp;amp;" not in shown


def test_swap_cancel_over_http_by_command_and_by_button(served: Served) -> None:
    served.command(f"swap request {SPAN} dentist", user=AMIRA, rid="s1")
    assert "`/ts swap cancel 1`" in served.answer("s1")["text"]
    (request,) = served.posted()
    buttons = button_values(request.json_arg("blocks"))

    served.press("swap_cancel", buttons["swap_cancel"], user=ELENA, rid="p1")
    refused = served.answer("p1")
    assert refused["response_type"] == "ephemeral"
    assert "only <@U01AHADDAD>, who asked, can cancel" in refused["text"]

    served.press("swap_cancel", buttons["swap_cancel"], user=AMIRA, rid="p2")
    cancelled = served.answer("p2")
    assert cancelled["replace_original"] is True
    assert "<@U01AHADDAD> withdrew their swap request 1" in cancelled["text"]

    served.press("swap_take", buttons["swap_take"], user=ELENA, rid="p3")
    assert "was cancelled" in served.answer("p3")["text"]
    served.command("swap cancel 1", user=AMIRA, rid="s2")
    assert "was cancelled" in served.answer("s2")["text"]
