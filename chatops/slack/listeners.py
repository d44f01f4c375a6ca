"""The slow halves of the Slack app: run a command, a button, a form or App Home, and answer.

They take plain payloads, not Bolt objects, so a work process (`chatops.slack.offload`) can run
them as well as a thread of the serving process. Each never raises and never shows a traceback:
a failure is logged under the request's correlation id, and the user is given that id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from chatops.blockkit import NO_UNFURL, Block, Reply, internal_error_reply, unescape
from chatops.db import Database
from chatops.logs import correlated
from chatops.settings import Settings
from chatops.slack import answers, render
from chatops.slack.client import slack_error
from chatops.slack.offload import Job
from chatops.slack.shortcut import open_report_form
from chatops.team import actor_for_slack_id
from commands.context import Clock, Context
from commands.forms import form_for_command
from commands.registry import FormValues, dispatch, dispatch_action, dispatch_form, form_errors
from rota.store import UnknownTeam, find_team

log = logging.getLogger(__name__)

HomeSection = Callable[[Context], Sequence[Block]]
"""A part of the App Home tab, computed for the member who opened it (later features add these)."""


class Listeners:
    """The slow halves of one app, holding what they use instead of reaching for globals.

    They take plain payloads, not Bolt objects, so a work process can run them too.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        web: WebClient,
        clock: Clock,
        team_name: str | None,
        home_sections: tuple[HomeSection, ...],
    ) -> None:
        self.settings = settings
        self.db = db
        self.web = web
        self.clock = clock
        self.team_name = team_name
        self.home_sections = home_sections

    def run_job(self, job: Job) -> None:
        run = {
            "command": self.run_command,
            "action": self.run_action,
            "form": self.run_form,
            "home": self.publish_home,
        }[job.kind]
        run(job.payload, job.cid)

    def job_lost(self, job: Job) -> None:
        """Tell the asker that their job died with its work process (it may have taken effect)."""
        with correlated(job.cid):
            text = (
                ":x: The bot stopped while doing this, so it may or may not have taken effect: "
                f"check before trying again. Quote reference `{job.cid}` when you report it."
            )
            if job.kind in ("command", "action"):
                answers.send(
                    job.payload.get("response_url"),
                    {
                        "response_type": "ephemeral",
                        "replace_original": False,
                        "text": text,
                        **NO_UNFURL,
                    },
                )
            elif job.kind == "form":
                user = _text(job.payload, "user", "id")
                if user:
                    self.web.chat_postMessage(
                        channel=user, text=text, unfurl_links=False, unfurl_media=False
                    )

    # -- the slow halves ----------------------------------------------------------------------

    def run_command(self, body: dict[str, Any], cid: str) -> None:
        """Run one `/ts` line and answer it; never raises, never shows a traceback."""
        channel = _text(body, "channel_id") or None
        response_url = _text(body, "response_url") or None
        with correlated(cid):
            try:
                ctx = self.context_for(_text(body, "user_id"), channel)
                reply = (
                    # Slack sends a typed & < > as &amp; &lt; &gt; (its own markup, like a
                    # mention, keeps real brackets): the handlers read what was typed.
                    dispatch(unescape(_text(body, "text")), ctx, cid=cid)
                    if isinstance(ctx, Context)
                    else ctx
                )
                post_to = ctx.channel if isinstance(ctx, Context) else channel
            except Exception:
                log.exception("slash command failed outside its handler")
                reply, post_to = internal_error_reply(cid), None
            answers.send(response_url, render.command_response(reply))
            answers.post_all(self.web, reply.posts, post_to, response_url, cid)
            answers.send_files(self.web, reply, _text(body, "user_id"), response_url, cid)

    def run_action(self, body: dict[str, Any], cid: str) -> None:
        """Run one button press: update the message in place, or answer only the clicker."""
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions else {}
        action = action if isinstance(action, dict) else {}
        channel = _text(body, "channel", "id") or None
        message_ts = _text(body, "container", "message_ts") or None
        user = _text(body, "user", "id")
        response_url = _text(body, "response_url") or None
        with correlated(cid):
            try:
                ctx = self.context_for(user, channel)
                reply = (
                    dispatch_action(_text(action, "action_id"), _action_value(action), ctx, cid=cid)
                    if isinstance(ctx, Context)
                    else ctx
                )
                post_to = ctx.channel if isinstance(ctx, Context) else channel
            except Exception:
                log.exception("button press failed outside its handler")
                reply, post_to = internal_error_reply(cid), None
            if response_url:
                answers.send(response_url, render.action_response(reply))
            elif channel and message_ts:
                answers.answer_without_response_url(self.web, reply, channel, message_ts, user)
            else:
                log.warning("button press has nowhere to answer", extra={"ok": reply.ok})
            answers.post_all(self.web, reply.posts, post_to, response_url, cid)

    def check_form(self, ack: Ack, body: dict[str, Any]) -> bool:
        """Answer a modal submission at once: mistakes inline under their inputs, else close it.

        The check is pure (no database), so it fits in Slack's 3 seconds. True: run the form.
        """
        view = _object(body.get("view"))
        try:
            errors = form_errors(_text(view, "callback_id"), _form_values(view))
        except Exception:
            log.exception("form check failed")
            errors = {}  # close the modal; the lazy half answers with a reference
        if errors:
            ack(response_action="errors", errors=errors)
            return False
        ack()
        return True

    def run_form(self, body: dict[str, Any], cid: str) -> None:
        """Run a submitted modal: the answer goes to the submitter by DM, posts to the channel."""
        view = _object(body.get("view"))
        callback_id = _text(view, "callback_id")
        values = _form_values(view)
        user = _text(body, "user", "id")
        # Where the form was asked for: the fallback channel, as for the typed command (a
        # reported message's reference is JSON instead: it is the form's, not a channel).
        metadata = _text(view, "private_metadata")
        channel = metadata if metadata and not metadata.startswith("{") else None
        with correlated(cid):
            try:
                if form_errors(callback_id, values):
                    return  # answered inline by `check_form`; the modal is still open
                ctx = self.context_for(user, channel)
                if isinstance(ctx, Context):
                    ctx = replace(ctx, form_metadata=metadata or None)
                reply = (
                    dispatch_form(callback_id, values, ctx, cid=cid)
                    if isinstance(ctx, Context)
                    else ctx
                )
                post_to = ctx.channel if isinstance(ctx, Context) else channel
            except Exception:
                log.exception("form submission failed outside its handler")
                reply, post_to = internal_error_reply(cid), None
            try:
                self.web.chat_postMessage(
                    channel=user,
                    text=reply.text,
                    blocks=reply.blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except Exception as error:
                log.warning("form answer DM failed", extra={"error": slack_error(error)})
            answers.post_all(self.web, reply.posts, post_to, None, cid)

    def publish_home(self, event: dict[str, Any], cid: str) -> None:
        """Publish the App Home tab; a failing section is left out rather than failing the tab."""
        if event.get("tab", "home") != "home":
            return
        user = _text(event, "user")
        if not user:
            return
        with correlated(cid):
            sections: list[Sequence[Block]] = []
            ctx = self.home_context(user) if self.home_sections else None
            if ctx is not None:
                for build in self.home_sections:
                    try:
                        sections.append(build(ctx))
                    except Exception:
                        name = getattr(build, "__name__", type(build).__name__)
                        log.exception("app home section failed", extra={"section": name})
            try:
                self.web.views_publish(user_id=user, view=render.home_view(sections))
            except Exception as error:
                log.warning("views.publish failed", extra={"error": slack_error(error)})

    # -- helpers ------------------------------------------------------------------------------

    def context_for(self, slack_user: str, channel: str | None) -> Context | Reply:
        """The command context for a Slack user, or the reply that explains why there is none."""
        with self.db.reading() as session:
            try:
                team = find_team(session, self.team_name)
            except UnknownTeam as error:
                log.warning("no team configured", extra={"reason": str(error)})
                return Reply(
                    text=(
                        f":warning: This bot has no team set up yet ({error}). "
                        f"Ask {self.settings.admin_contact} to import the rota."
                    ),
                    ok=False,
                )
            actor = actor_for_slack_id(session, team, slack_user)
        assert team.id is not None
        return Context(
            db=self.db,
            team_id=team.id,
            team_name=team.name,
            actor=actor,
            clock=self.clock,
            admin_contact=self.settings.admin_contact,
            channel=team.channel or channel,
            horizon_days=self.settings.check_horizon_days,
            page_limit_per_minute=self.settings.page_limit_per_minute,
            public_url=self.settings.public_url,
            user_id=slack_user,
            report_within=self.settings.duration(self.settings.report_within),
            preserve_for=timedelta(days=self.settings.report_preserve_days),
        )

    def home_context(self, slack_user: str) -> Context | None:
        """The context App Home sections are computed for; None leaves only the base view."""
        try:
            ctx = self.context_for(slack_user, None)
        except Exception:
            log.exception("app home: cannot resolve the member")
            return None
        return ctx if isinstance(ctx, Context) else None

    def open_form(self, body: dict[str, Any]) -> bool:
        """Open the modal a command line stands for (`case open` alone); False: run it typed.

        When Slack refuses (an expired trigger id), the typed command's answer follows instead.
        """
        view = form_for_command(
            str(body.get("text", "")), private_metadata=str(body.get("channel_id") or "")
        )
        trigger_id = body.get("trigger_id")
        if view is None or not trigger_id:
            return False
        try:
            self.web.views_open(trigger_id=trigger_id, view=view)
        except Exception as error:
            log.warning("views.open failed", extra={"error": slack_error(error)})
            return False
        return True

    def open_report(self, body: dict[str, Any]) -> None:
        """The *Report to Trust & Safety* shortcut: the form on the message, or one line."""
        open_report_form(self.web, body, answers.send)


def _object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: payload fields are read, never trusted."""
    return value if isinstance(value, dict) else {}


def _text(payload: dict[str, Any], *path: str) -> str:
    """The string at `path` in `payload`, or "" when any step is missing or of another type.

    Slack's payloads reach the listeners checked over HTTP (`chatops.slack.payloads`), but not
    over Socket Mode; a job that died on `user` being a string would never answer anyone.
    """
    value: Any = payload
    for key in path:
        value = _object(value).get(key)
    return value if isinstance(value, str) else ""


def _action_value(action: dict[str, Any]) -> str:
    """A button's value, or the chosen option of a select menu."""
    if "value" in action:
        return _text(action, "value")
    return _text(action, "selected_option", "value")


def _form_values(view: dict[str, Any]) -> FormValues:
    """A submitted view's input values (block id → action id → state)."""
    values = _object(_object(view.get("state")).get("values"))
    return {k: v for k, v in values.items() if isinstance(v, dict)}
