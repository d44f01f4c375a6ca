"""End to end over real HTTP: signed requests in, the fake Slack Web API records what comes out."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

import chatops.slack.listeners as slack_listeners
from chatops.blockkit import Reply, Visibility
from chatops.db import Database
from chatops.logs import correlation_id
from chatops.settings import Settings
from chatops.slack import create_app
from chatops.slack.http import SlackHttpServer
from commands.context import Context, Refused
from commands.registry import ACTIONS, VERBS, action, verb
from rota.spec import MemberSpec, Role, RotaSpec, RotationSpec, TeamSpec
from rota.store import save_rota
from tests.support.fakeslack import RESPONSE_URL, FakeSlack, error, rate_limited
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.slackhttp import (
    HttpResult,
    app_home_opened,
    block_action,
    get,
    post,
    slash_command,
)

SECRET = "s3cret-signing"
BOT_TOKEN = "xoxb-test-token"
ALICE, BOB, NOBODY = "U0ALICE", "U0BOB", "U0NOBODY"
TEAM_CHANNEL = "C0TEAM"
ACK_LIMIT_S = 1.0  # Slack allows 3 s; the ack must not come anywhere near it

ROTA = RotaSpec(
    team=TeamSpec(name="Trust & Safety", channel=TEAM_CHANNEL),
    members=(
        MemberSpec(id=ALICE, name="Alice", tz="Europe/Berlin", role=Role.manager),
        MemberSpec(id=BOB, name="Bob", tz="Asia/Kolkata"),
        MemberSpec(id="U0CARMEN", name="Carmen", tz="America/Bogota", languages=("es", "en")),
    ),
    rotations=(
        RotationSpec(
            name="primary",
            tz="UTC",
            handoff="0 9 * * mon",
            start=datetime(2026, 1, 5, 9, tzinfo=UTC),
            participants=(ALICE, BOB, "U0CARMEN"),
        ),
    ),
)


def make_settings(fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SECRET),
        "slack_api_url": fake.api_url,
        "team": None,
        "admin_contact": "the T&S leads (#ts-leads)",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@dataclass
class Served:
    """The app served on an ephemeral port, with the fake Slack it talks to."""

    url: str
    fake: FakeSlack
    server: SlackHttpServer

    def command(self, text: str, *, user: str = ALICE, rid: str = "r1", **knobs: Any) -> HttpResult:
        body, kind = slash_command(text, user_id=user, response_url=self.fake.response_url(rid))
        return post(self.url, body, kind, SECRET, **knobs)

    def press(
        self, action_id: str, value: str, *, user: str = ALICE, rid: str | None = "r1"
    ) -> HttpResult:
        url = self.fake.response_url(rid) if rid else None
        body, kind = block_action(action_id, value, user_id=user, response_url=url)
        return post(self.url, body, kind, SECRET)

    def answer(self, rid: str = "r1", *, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """The last of `count` bodies POSTed to response_url `rid`."""
        calls = self.fake.wait_for(
            lambda c: c.method == RESPONSE_URL and c.response_id == rid,
            count=count,
            timeout=timeout,
        )
        return calls[count - 1].args


@pytest.fixture
def serve_app(fake_slack: FakeSlack) -> Iterator[Callable[..., Served]]:
    """Start the app for a database; every server started is stopped after the test."""
    servers: list[SlackHttpServer] = []

    def start(db: Database, *, with_team: bool = True, **kwargs: Any) -> Served:
        if with_team:
            with db.transaction() as session:
                save_rota(session, ROTA)
        settings = make_settings(fake_slack, **kwargs.pop("settings", {}))
        app = create_app(settings, db, **kwargs)
        server = SlackHttpServer(app, host="127.0.0.1", port=0)
        server.start()
        servers.append(server)
        return Served(url=server.url, fake=fake_slack, server=server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def throwaway_commands() -> Iterator[None]:
    """Verbs and buttons that exist only for one test, removed afterwards."""
    import commands.verbs  # noqa: F401  (register the real verbs before taking the snapshot)

    verbs, actions = dict(VERBS), dict(ACTIONS)

    @verb("whoami", summary="Test: who am I.", usage="/ts whoami")
    def whoami(args: list[str], ctx: Context) -> Reply:
        assert ctx.actor is not None
        return Reply(
            text=f"you are {ctx.actor.name}",
            visibility=Visibility.in_channel,
            posts=[Reply(text=f"{ctx.actor.name} asked who they are")],
        )

    @verb("boom", summary="Test: fails.", usage="/ts boom")
    def boom(args: list[str], ctx: Context) -> Reply:
        raise RuntimeError("restricted detail do-not-leak")

    @action("test.ack")
    def ack_button(value: str, ctx: Context) -> Reply:
        assert ctx.actor is not None
        return Reply(
            text=f"acknowledged {value} by {ctx.actor.name}", visibility=Visibility.in_channel
        )

    @action("test.refuse")
    def refuse_button(value: str, ctx: Context) -> Reply:
        raise Refused("only the incoming responder may acknowledge this handoff")

    yield
    VERBS.clear()
    VERBS.update(verbs)
    ACTIONS.clear()
    ACTIONS.update(actions)


# -- slash commands --


@pytest.mark.parametrize("before_response", [False, True], ids=["lazy", "process-before-response"])
def test_help_is_acked_at_once_and_answered_through_response_url(
    db: Database, serve_app: Callable[..., Served], before_response: bool
) -> None:
    served = serve_app(db, process_before_response=before_response)

    result = served.command("help")

    assert result.status == 200
    assert result.elapsed < ACK_LIMIT_S
    answer = served.answer()
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["type"] == "header"
    assert "/ts help" in answer["text"]


def test_unknown_verb_gets_did_you_mean(
    sqlite_db: Database, serve_app: Callable[..., Served]
) -> None:
    served = serve_app(sqlite_db)

    served.command("hepl")

    assert "did you mean `help`" in served.answer()["text"]


def test_unknown_slack_user_is_told_who_can_add_them(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)

    served.command("whoami", user=NOBODY)

    text = served.answer()["text"]
    assert "not a member of the *Trust &amp; Safety* team" in text
    assert "the T&S leads (#ts-leads)" in text
    assert served.fake.calls_to("chat.postMessage") == []


def test_member_command_answers_in_channel_and_posts_to_the_team_channel(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)

    served.command("whoami", user=BOB)

    answer = served.answer()
    assert answer["response_type"] == "in_channel"
    assert answer["text"] == "you are Bob"
    (posted,) = served.fake.wait_for("chat.postMessage")
    assert posted.args["channel"] == TEAM_CHANNEL
    assert posted.args["text"] == "Bob asked who they are"
    assert posted.token == BOT_TOKEN


def test_no_team_in_the_database_is_explained_not_crashed(
    sqlite_db: Database, serve_app: Callable[..., Served]
) -> None:
    served = serve_app(sqlite_db, with_team=False)

    served.command("help")

    text = served.answer()["text"]
    assert "no team set up yet" in text
    assert "#ts-leads" in text


# -- request verification --


@pytest.mark.parametrize(
    "knobs",
    [
        {"wrong_signature": True},
        {"stale": True},
        {"omit": ("X-Slack-Signature",)},
        {"omit": ("X-Slack-Request-Timestamp",)},
        {"omit": ("X-Slack-Signature", "X-Slack-Request-Timestamp")},
    ],
    ids=["wrong-signature", "stale-timestamp", "no-signature", "no-timestamp", "no-headers"],
)
def test_unsigned_or_stale_requests_are_refused_and_run_nothing(
    sqlite_db: Database, serve_app: Callable[..., Served], knobs: dict[str, Any]
) -> None:
    served = serve_app(sqlite_db)

    refused = served.command("help", rid="bad", **knobs)
    # A good request afterwards proves the listeners run; only its answer may be recorded.
    served.command("help", rid="good")
    served.answer("good")

    assert refused.status == 401
    assert [(c.method, c.response_id) for c in served.fake.calls] == [(RESPONSE_URL, "good")]


# -- acknowledging in time --


def test_ack_is_fast_even_when_the_web_api_is_slow(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)
    served.fake.slow(RESPONSE_URL, 2.0)
    served.fake.slow("chat.postMessage", 2.0)

    result = served.command("whoami")

    assert result.status == 200
    assert result.elapsed < ACK_LIMIT_S
    assert served.answer(timeout=6)["text"] == "you are Alice"
    served.fake.wait_for("chat.postMessage", timeout=6)


def test_rate_limited_post_is_retried_after_retry_after(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)
    served.fake.script("chat.postMessage", rate_limited(retry_after=1))

    served.command("whoami")

    attempts = served.fake.wait_for("chat.postMessage", count=2, timeout=6)
    assert [c.args["channel"] for c in attempts] == [TEAM_CHANNEL, TEAM_CHANNEL]
    assert len(served.fake.calls_to(RESPONSE_URL)) == 1  # no failure notice: the retry worked


def test_failed_channel_post_is_reported_to_the_asker(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)
    served.fake.script("chat.postMessage", error("not_in_channel"))

    served.command("whoami")

    notice = served.answer(count=2)
    assert notice["response_type"] == "ephemeral"
    assert "could not be posted" in notice["text"]
    assert "not_in_channel" in notice["text"]


# -- buttons --


def test_button_press_updates_the_original_message_in_place(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)

    result = served.press("test.ack", "TS-2027-0042", user=BOB)

    assert result.status == 200
    assert result.elapsed < ACK_LIMIT_S
    answer = served.answer()
    assert answer["replace_original"] is True
    assert answer["text"] == "acknowledged TS-2027-0042 by Bob"


def test_refused_button_answers_only_the_clicker_and_keeps_the_buttons(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)

    served.press("test.refuse", "TS-1")

    answer = served.answer()
    assert answer["replace_original"] is False
    assert answer["response_type"] == "ephemeral"
    assert "only the incoming responder" in answer["text"]


def test_button_press_by_an_unknown_user_is_refused_ephemerally(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)

    served.press("test.ack", "TS-1", user=NOBODY)

    answer = served.answer()
    assert answer["replace_original"] is False
    assert "not a member" in answer["text"]


def test_button_without_response_url_updates_through_the_web_api(
    sqlite_db: Database, serve_app: Callable[..., Served], throwaway_commands: None
) -> None:
    served = serve_app(sqlite_db)

    served.press("test.ack", "TS-7", rid=None)

    (update,) = served.fake.wait_for("chat.update")
    assert update.args["channel"] == "C0ASKED"
    assert update.args["ts"] == "1700000000.000100"
    assert update.args["text"] == "acknowledged TS-7 by Alice"


# -- failures never show a traceback --


class _RecordCid(logging.Filter):
    """Stamp each captured record with the correlation id of the thread that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.cid = correlation_id()
        return True


@pytest.fixture
def cid_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    stamp = _RecordCid()
    caplog.handler.addFilter(stamp)
    caplog.set_level(logging.INFO)
    yield caplog
    caplog.handler.removeFilter(stamp)


def _reference(text: str) -> str:
    found = re.search(r"reference `([0-9a-f]+)`", text)
    assert found, text
    return found.group(1)


def test_handler_error_gives_a_reference_and_logs_it_without_traceback_to_slack(
    sqlite_db: Database,
    serve_app: Callable[..., Served],
    throwaway_commands: None,
    cid_caplog: pytest.LogCaptureFixture,
) -> None:
    served = serve_app(sqlite_db)

    served.command("boom")

    text = served.answer()["text"]
    cid = _reference(text)
    assert "Traceback" not in text
    assert "do-not-leak" not in text
    failures = [r for r in cid_caplog.records if r.getMessage() == "command failed"]
    assert [getattr(r, "cid", None) for r in failures] == [cid]
    assert failures[0].exc_info is not None
    assert any(
        r.getMessage() == "slack request" and getattr(r, "cid", None) == cid
        for r in cid_caplog.records
    )


def test_adapter_failure_before_dispatch_also_gives_a_reference(
    sqlite_db: Database,
    serve_app: Callable[..., Served],
    cid_caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = serve_app(sqlite_db)

    def database_down(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("could not connect to server: secret-host")

    monkeypatch.setattr(slack_listeners, "find_team", database_down)

    served.command("help")

    text = served.answer()["text"]
    cid = _reference(text)
    assert "secret-host" not in text
    logged = [
        r for r in cid_caplog.records if r.getMessage().endswith("failed outside its handler")
    ]
    assert [getattr(r, "cid", None) for r in logged] == [cid]


# -- App Home and plumbing --


def test_app_home_is_published_with_the_way_in_and_extra_sections(
    sqlite_db: Database, serve_app: Callable[..., Served]
) -> None:
    def greeting(ctx: Context) -> list[dict[str, Any]]:
        name = ctx.actor.name if ctx.actor else "stranger"
        return [{"type": "section", "text": {"type": "mrkdwn", "text": f"Hello {name}"}}]

    def broken(ctx: Context) -> list[dict[str, Any]]:
        raise RuntimeError("section bug")

    served = serve_app(sqlite_db, home_sections=[greeting, broken])
    body, kind = app_home_opened(ALICE)

    result = post(served.url, body, kind, SECRET)

    assert result.status == 200
    (published,) = served.fake.wait_for("views.publish")
    assert published.args["user_id"] == ALICE
    view = published.json_arg("view")
    assert view["type"] == "home"
    texts = [b.get("text", {}).get("text", "") for b in view["blocks"]]
    assert any("/ts help" in t for t in texts)
    assert "Hello Alice" in texts


def test_health_probe_and_unknown_paths(
    sqlite_db: Database, serve_app: Callable[..., Served]
) -> None:
    served = serve_app(sqlite_db)
    base = served.url.removesuffix("/slack/events")

    assert get(base + "/healthz").status == 200
    assert get(base + "/nope").status == 404


def test_startup_does_not_warn_about_the_token_in_the_environment(
    sqlite_db: Database,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # How `chatops serve` usually runs: SLACK_BOT_TOKEN is in the environment, which Bolt reads.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with caplog.at_level(logging.DEBUG, logger="slack_bolt"):
        create_app(make_settings(fake_slack), sqlite_db)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
