"""The example team served over real HTTP with a fixed clock, for end-to-end tests and the bench.

One place builds it so that every end-to-end file drives the same app the same way: settings
pointing at the fake Web API, the example rota saved in the database, and signed requests in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from chatops.clock import ManualClock
from chatops.db import Database
from chatops.settings import Settings
from chatops.slack import create_app
from chatops.slack.http import SlackHttpServer
from rota.resolve import Shift, compile_rota
from rota.spec import RotaSpec
from rota.store import save_rota
from rota.yamlio import load_rota_yaml
from tests.support.clirun import EXAMPLE
from tests.support.fakeslack import RESPONSE_URL, Call, FakeSlack
from tests.support.slackhttp import HttpResult, app_home_opened, block_action, post, slash_command

SECRET = "s3cret-signing"
BOT_TOKEN = "xoxb-test-token"
# A Wednesday at noon UTC (New York already on summer time, Europe not yet).
NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)
AMIRA, LUKAS, ELENA, DANIEL = "U01AHADDAD", "U01LBECKER", "U01EPETROV", "U01DOKAFOR"
PRIYA, SOFIA = "U01PRAMAN0", "U01SMARTIN"
NOBODY = "U0NOBODY"
TEAM_CHANNEL = "#ts-oncall"  # the example rota's channel


def example_rota() -> RotaSpec:
    return load_rota_yaml(EXAMPLE)


def first_shift(member: str, rotation: str, after: datetime = NOW) -> Shift:
    """`member`'s first shift on `rotation` starting after `after` in the example rota.

    Tests derive their windows from the rota instead of hard-coding whose week it is, so they
    keep working when the example's rotation starts move.
    """
    upcoming = compile_rota(example_rota()).shifts(after, after + timedelta(days=60), member=member)
    return next(s for s in upcoming if s.rotation == rotation and s.start >= after)


def iso(instant: datetime) -> str:
    """An instant as a command reads it unambiguously: `2027-03-22T07:00Z`."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def settings_for(fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SECRET),
        "slack_api_url": fake.api_url,
        "team": None,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@dataclass
class Served:
    """The app on an ephemeral loopback port, the fake Slack it talks to, and its clock."""

    url: str
    fake: FakeSlack
    db: Database
    clock: ManualClock

    def command(self, text: str, *, user: str = AMIRA, rid: str = "r1") -> HttpResult:
        body, kind = slash_command(text, user_id=user, response_url=self.fake.response_url(rid))
        return post(self.url, body, kind, SECRET)

    def press(self, action_id: str, value: str, *, user: str, rid: str = "p1") -> HttpResult:
        url = self.fake.response_url(rid)
        body, kind = block_action(action_id, value, user_id=user, response_url=url)
        return post(self.url, body, kind, SECRET)

    def open_home(self, user: str) -> HttpResult:
        body, kind = app_home_opened(user)
        return post(self.url, body, kind, SECRET)

    def answer(self, rid: str = "r1", *, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """The `count`-th body POSTed to response_url `rid`."""
        calls = self.fake.wait_for(
            lambda c: c.method == RESPONSE_URL and c.response_id == rid,
            count=count,
            timeout=timeout,
        )
        return calls[count - 1].args

    def posted(self, *, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """The first `count` channel posts (chat.postMessage) the bot made."""
        return self.fake.wait_for("chat.postMessage", count=count, timeout=timeout)[:count]


@contextmanager
def serve(
    db: Database,
    fake: FakeSlack,
    *,
    rota: RotaSpec | None = None,
    now: datetime = NOW,
    **app_kwargs: Any,
) -> Iterator[Served]:
    """Save `rota` (the example team by default) and serve the app until the block ends."""
    with db.transaction() as session:
        save_rota(session, rota or example_rota())
    clock = ManualClock(now)
    app = create_app(settings_for(fake), db, clock=clock, **app_kwargs)
    server = SlackHttpServer(app, host="127.0.0.1", port=0)
    server.start()
    try:
        yield Served(url=server.url, fake=fake, db=db, clock=clock)
    finally:
        server.stop()


def button_values(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """action_id → value of every button in `blocks`."""
    return {
        element["action_id"]: element["value"]
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    }


def texts(blocks: list[dict[str, Any]]) -> str:
    """All the mrkdwn/plain text of `blocks`, one block a line, for `in` assertions."""
    out: list[str] = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e.get("text", "") for e in block.get("elements", []) if "text" in e)
    return "\n".join(str(t) for t in out)
