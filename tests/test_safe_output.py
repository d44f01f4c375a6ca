"""Typed text never becomes Slack markup (issue #11, findings 2 and 10).

A summary, note, reason or handoff note holding `<!channel>` or a disguised link goes through
every path that shows it: the pages the worker delivers, the handoff post, the swap request, and a
command's answer over signed HTTP. No recorded Slack call may carry `<!` or an unescaped `<http`,
no link may stay clickable, and every post asks Slack not to unfurl.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chatops.blockkit import (
    QUOTE_LIMIT,
    Reply,
    defang,
    escape,
    fields,
    quote_input,
    section,
    user_text,
)
from chatops.cases import opening
from chatops.db import Database
from chatops.outbox.notifier import SlackNotifier
from chatops.slack import render
from chatops.worker import run_handoffs_due
from commands.registry import dispatch
from tests.support import case_world as escalation
from tests.support import handoff_world as handoffs
from tests.support.fakeslack import RESPONSE_URL, Call, FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, NOW, Served, first_shift, iso, serve

EVIL = (
    "Ping <!channel> <!here> <!everyone> <!subteam^S123> "
    "<https://evil.example|the runbook> & co https://evil.example/x"
)


def leaks(payload: Any) -> list[str]:
    """The Slack markup a payload would act on that no typed text may produce."""
    raw = json.dumps(payload, ensure_ascii=False)
    found = [
        m for m in ("<!", "<http", "|the runbook>", "https://evil", "evil.example") if m in raw
    ]
    return found


def slack_notifier(fake: FakeSlack) -> SlackNotifier:
    return SlackNotifier(token="xoxb-test", base_url=fake.api_url)


def assert_posts_are_safe(calls: list[Call]) -> None:
    assert calls, "nothing was posted"
    for call in calls:
        assert leaks(call.args) == [], (call.method, call.args)
        if call.method == "chat.postMessage":
            assert call.args.get("unfurl_links") is False, call.args
            assert call.args.get("unfurl_media") is False, call.args


# -- the one escaping function ----------------------------------------------------------------


def test_user_text_escapes_defangs_and_drops_controls() -> None:
    shown = user_text(EVIL + "\x07\u202e\nnext line")
    assert "<" not in shown and ">" not in shown
    assert "&lt;!channel&gt;" in shown
    assert "&amp; co" in shown
    assert "hxxps://evil[.]example/x" in shown
    assert "\x07" not in shown and "\u202e" not in shown
    assert "\nnext line" in shown
    assert escape("a & <b>") == "a &amp; &lt;b&gt;"
    assert (
        defang("see http://a.b.org/p and www.c.org") == "see hxxp://a[.]b[.]org/p and www[.]c[.]org"
    )


def test_block_text_is_cut_at_slacks_limits_with_a_visible_mark() -> None:
    long = "x" * 5000
    assert section(long)["text"]["text"].endswith("…")
    assert len(section(long)["text"]["text"]) == 3000
    field = fields([("Label", long)])["fields"][0]["text"]
    assert len(field) == 2000 and field.endswith("…")
    assert user_text(long, 200) == "x" * 199 + "…"


# -- pages and channel posts the worker delivers -----------------------------------------------


def test_pages_never_carry_markup_and_never_unfurl(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    world = escalation.make_world(sqlite_db)
    ann = escalation.ANN
    opened = dispatch(f"case open harassment sev2 {EVIL}", world.context(ann))
    assert opened.ok, opened.text
    assert dispatch(f"case note TS-2027-0001 {EVIL}", world.context(ann)).ok
    escalated = dispatch(f"escalate TS-2027-0001 {EVIL}", world.context(ann))
    assert escalated.ok, escalated.text
    notifier = slack_notifier(fake_slack)
    while escalation.escalation_pass(sqlite_db, world.clock, notifier, worker_id="w1"):
        pass
    posts = fake_slack.calls_to("chat.postMessage")
    assert {c.args["channel"] for c in posts} >= {escalation.CHANNEL, ann}
    assert_posts_are_safe(posts)
    channel_text = json.dumps([c.args for c in posts], ensure_ascii=False)
    assert "&lt;!channel&gt;" in channel_text  # shown, not acted on
    assert "hxxps://evil[.]example/x" in channel_text

    shown = dispatch("case show TS-2027-0001", world.context(ann))
    assert leaks(shown.blocks) == [] and leaks(shown.text) == []
    assert "&lt;!here&gt;" in json.dumps(shown.blocks)


def test_handoff_post_never_carries_markup_and_never_unfurls(
    db: Database, fake_slack: FakeSlack
) -> None:
    boundary = handoffs.START.replace(month=3, day=20)
    world = handoffs.make_world(db, handoffs.daily_team(), boundary - timedelta(hours=1))
    with db.transaction() as session:
        opening.open_case(
            session,
            team_id=world.team_id,
            actor=world.actor(handoffs.ANN),
            at=world.clock(),
            case_type="harassment",
            severity="sev3",
            summary=EVIL,
        )
    assert dispatch(f"handoff note {EVIL}", world.context(handoffs.ANN)).ok
    notifier = slack_notifier(fake_slack)
    world.advance_to(boundary)
    for _ in range(20):
        done = run_handoffs_due(
            db,
            world.clock,
            notifier,
            worker_id="w1",
            settings=world.settings,
            watch=world.watch,
        )
        if not done:
            break
    posts = fake_slack.calls_to("chat.postMessage")
    handoff_posts = [c for c in posts if c.args["channel"] == handoffs.CHANNEL]
    assert any("Handoff" in json.dumps(c.args) for c in handoff_posts)
    assert_posts_are_safe(posts)
    assert "&lt;!everyone&gt;" in json.dumps([c.args for c in handoff_posts])


def test_swap_reason_and_command_replies_render_without_markup() -> None:
    reply = Reply(text=user_text(EVIL), posts=[Reply(text=user_text(EVIL))])
    for body in (render.command_response(reply), render.action_response(reply)):
        assert leaks(body) == []
        assert body["unfurl_links"] is False and body["unfurl_media"] is False


# -- over signed HTTP --------------------------------------------------------------------------


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def test_command_answers_and_channel_posts_over_http_carry_no_markup(served: Served) -> None:
    served.command(f"case open harassment sev2 {EVIL}", rid="o1")
    assert served.answer("o1")["text"].startswith(":white_check_mark: Opened")
    served.command("case show TS-2027-0001", rid="s1")
    shown = served.answer("s1")
    assert "&lt;!channel&gt;" in json.dumps(shown)
    shift = first_shift(AMIRA, "emea", NOW + timedelta(days=1))
    served.command(f"swap request {iso(shift.start)} to {iso(shift.end)} {EVIL}", rid="w1")
    served.answer("w1")
    [post] = served.posted()
    assert "&lt;!subteam^S123&gt;" in json.dumps(post.args)
    answers = served.fake.calls_to(RESPONSE_URL)
    assert_posts_are_safe([*answers, post])
    for answer in answers:
        assert answer.args.get("unfurl_links") is False
        assert answer.args.get("unfurl_media") is False


# -- refusals -----------------------------------------------------------------------------------


def _controls(text: str) -> list[str]:
    return [c for c in text if c != "\n" and unicodedata.category(c) in {"Cc", "Cf"}]


@pytest.mark.parametrize(
    "line",
    [
        "x" * 40_000,
        "case frobnicate " + "\x1b[31m\u202e" * 20_000,
        "case show " + "TS-" + "9" * 40_000,
        "case open harassment " + "sev" * 13_000 + " summary",
        "who " + "\x00\x07" * 20_000,
    ],
    ids=["unknown-verb", "unknown-action", "bad-key", "bad-severity", "who-extra"],
)
def test_a_40kb_line_is_refused_quoting_at_most_100_characters(
    sqlite_db: Database, line: str
) -> None:
    world = escalation.make_world(sqlite_db)
    reply = dispatch(line, world.context(escalation.ANN))
    assert not reply.ok
    everything = reply.text + json.dumps(reply.blocks, ensure_ascii=False)
    assert len(reply.text) < 600, reply.text[:300]
    assert _controls(everything) == []
    assert "…" in reply.text


MARKUP = "x<!channel>"  # a word, not a mention: the paths that say "unexpected"


@pytest.mark.parametrize(
    "line",
    [
        f"case list {MARKUP}",
        f"cases {MARKUP}",
        f"case list type:{MARKUP}",
        f"case show TS-2027-0001 page:{MARKUP}",
        f"case edit TS-2027-0001 {MARKUP} x",
        f"case edit TS-2027-0001 sev {MARKUP}",
        f"away list {MARKUP}",
        f"ical {MARKUP}",
        f"shifts {MARKUP}",
        f"exposure {MARKUP}",
        f"exposure week {MARKUP}",
        f"audit TS-2027-0001 {MARKUP}",
        f"who's on call {MARKUP}",
    ],
)
def test_a_refusal_echoes_typed_markup_escaped(sqlite_db: Database, line: str) -> None:
    """Every "unexpected `…`" quotes what was typed through quote_input: never live markup."""
    world = escalation.make_world(sqlite_db)
    ann = world.context(escalation.ANN)
    assert dispatch("case open harassment sev3 Repeated insults", ann).ok
    reply = dispatch(line, ann)
    assert not reply.ok, reply.text
    everything = reply.text + json.dumps(reply.blocks, ensure_ascii=False)
    assert "<!channel>" not in everything, reply.text
    assert "&lt;!channel&gt;" in reply.text, reply.text


def test_quote_input_shows_controls_and_cuts() -> None:
    quoted = quote_input("a\x07b\u202ec`d" + "e" * 500)
    assert quoted.startswith("a\\x07b\\u202ec'd")
    assert quoted.endswith("…") and len(quoted) == QUOTE_LIMIT + 1
    assert quote_input("<!channel>") == "&lt;!channel&gt;"


def test_a_bare_domain_is_defanged_too() -> None:
    """Slack links `evil.example` by itself, scheme or not: shown text must not be clickable."""
    shown = user_text("the runbook is at evil.example/login, mail ops@bad.co.uk; version 1.5")
    assert "evil[.]example/login" in shown and "bad[.]co[.]uk" in shown
    assert "evil.example" not in shown and "version 1.5" in shown
