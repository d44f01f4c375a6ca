"""The Take case button over real signed HTTP: announced in the team channel, pressed, taken."""

from __future__ import annotations

from chatops.db import Database
from chatops.outbox.notifier import SlackNotifier
from tests.support.case_world import escalation_pass
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, BOT_TOKEN, ELENA, TEAM_CHANNEL, button_values, serve


def test_take_case_from_the_channel_announcement(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    with serve(sqlite_db, fake_slack) as served:
        served.command("case open harassment sev3 Doxxing thread", user=AMIRA)
        assert served.answer()["text"].startswith(":white_check_mark: Opened *TS-2027-0001")
        notifier = SlackNotifier(token=BOT_TOKEN, base_url=fake_slack.api_url)
        escalation_pass(sqlite_db, served.clock, notifier, worker_id="w1")
        (announcement,) = [
            c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == TEAM_CHANNEL
        ]
        take = button_values(announcement.json_arg("blocks"))["case.take"]
        sent = len(fake_slack.calls_to("chat.postMessage"))

        assert served.press("case.take", take, user=ELENA, rid="t1").status == 200

        taken = served.answer("t1")
        assert taken["replace_original"] is False
        assert taken["response_type"] == "ephemeral"
        assert (
            taken["text"] == ":raised_hand: TS-2027-0001 is yours now; its escalation is stopped."
        )
        told = fake_slack.wait_for("chat.postMessage", count=sent + 1)[-1]
        assert told.args["channel"] == TEAM_CHANNEL
        assert told.args["text"] == (
            ":raised_hand: TS-2027-0001 · harassment · sev3 taken by <@U01EPETROV>."
        )
