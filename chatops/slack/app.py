"""The Bolt app: `/ts`, buttons and App Home, all answered through `commands.registry`.

Every listener acknowledges at once, then hands the slow part (database, Web API) on: to a thread
of the serving process, or to a work process (`chatops.slack.offload`), so Slack's 3-second limit
holds whatever the database or Slack itself are doing. Answers go back through
`response_url`; `Reply.posts` go to the team channel. One correlation id
per request ties the log lines to the reference a user is shown when something fails, and no
traceback ever reaches Slack. The command text is never logged: it may carry restricted details.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from chatops.blockkit import Block, Reply, internal_error_reply
from chatops.clock import system_clock
from chatops.db import Database, make_engine
from chatops.logs import configure_logging, correlated, new_correlation_id
from chatops.settings import Settings
from chatops.slack import render
from chatops.slack.home import DEFAULT_SECTIONS
from chatops.slack.offload import InThread, Job, JobRunner, SlowHalves, WorkProcesses
from chatops.team import actor_for_slack_id
from commands.context import Clock, Context
from commands.forms import form_for_command
from commands.registry import FormValues, dispatch, dispatch_action, dispatch_form, form_errors
from rota.store import UnknownTeam, find_team

log = logging.getLogger(__name__)

SLASH_COMMAND = "/ts"
EVENTS_PATH = "/slack/events"
# Every action id: buttons are told apart by `commands.registry.ACTIONS`, not by Bolt.
ANY_ACTION = re.compile(r".+")
# Every modal's callback_id: forms are told apart by `commands.registry.FORMS`.
ANY_FORM = re.compile(r".+")
WEB_API_TIMEOUT_S = 15
_CID = "chatops_cid"


class _TokenNotes(logging.Filter):
    """Drops Bolt's startup note that SLACK_BOT_TOKEN in the environment goes unused.

    That is by design here (`authorize` hands out the token), and a warning at every start
    would teach operators to ignore warnings.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token`" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_TokenNotes())

HomeSection = Callable[[Context], Sequence[Block]]
"""A part of the App Home tab, computed for the member who opened it (later features add these)."""


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in the workspace, as `auth.test` told `serve()` at startup."""

    team_id: str | None = None
    user_id: str | None = None
    bot_id: str | None = None

    @classmethod
    def from_auth_test(cls, response: SlackResponse) -> BotIdentity:
        return cls(
            team_id=response.get("team_id"),
            user_id=response.get("user_id"),
            bot_id=response.get("bot_id"),
        )


def retry_handlers() -> list[RetryHandler]:
    """Retry what is safe to retry: rate limits (honouring Retry-After), 5xx, connection errors."""
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def build_web_client(settings: Settings) -> WebClient:
    """The bot's Web API client at `settings.slack_api_url`, with retries."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_S,
        retry_handlers=retry_handlers(),
    )


def create_app(
    settings: Settings,
    db: Database,
    *,
    client: WebClient | None = None,
    clock: Clock = system_clock,
    team_name: str | None = None,
    identity: BotIdentity | None = None,
    process_before_response: bool = False,
    home_sections: Sequence[HomeSection] | None = None,
) -> App:
    """Build the Bolt app for one team, its slow halves run in the serving process.

    No globals, so tests and replicas each build their own. `serving_app` is the same app with
    the slow halves in work processes, as `chatops serve` runs it.
    `home_sections` defaults to `chatops.slack.home.DEFAULT_SECTIONS`; `()` gives the bare tab.
    """
    return _assemble(
        settings,
        db,
        client=client,
        clock=clock,
        team_name=team_name,
        identity=identity,
        process_before_response=process_before_response,
        home_sections=home_sections,
        work_processes=0,
    ).app


@dataclass(frozen=True)
class ServingApp:
    """The Bolt app and where its slow halves run; `close()` lets the work processes finish."""

    app: App
    work: SlowHalves

    def close(self) -> None:
        self.work.close()


def serving_app(
    settings: Settings,
    db: Database,
    *,
    client: WebClient | None = None,
    clock: Clock = system_clock,
    identity: BotIdentity | None = None,
) -> ServingApp:
    """The app as `chatops serve` runs it: `CHATOPS_WORK_PROCESSES` processes do the slow halves.

    Work processes read the system clock, so an injected clock keeps the work in this process.
    """
    processes = settings.work_processes if clock is system_clock else 0
    return _assemble(
        settings,
        db,
        client=client,
        clock=clock,
        team_name=None,
        identity=identity,
        process_before_response=False,
        home_sections=None,
        work_processes=processes,
    )


def _assemble(
    settings: Settings,
    db: Database,
    *,
    client: WebClient | None,
    clock: Clock,
    team_name: str | None,
    identity: BotIdentity | None,
    process_before_response: bool,
    home_sections: Sequence[HomeSection] | None,
    work_processes: int,
) -> ServingApp:
    """Authorization is a local function instead of Bolt's token check.

    Bolt would otherwise call `auth.test` on the first request, inside the 3-second window.
    `serve()` checks the token at startup and passes what it learnt as `identity`. `app.client`
    holds no token (Bolt warns when both a token and `authorize` are given); the listeners use
    their own client holding it.
    """
    web = client or build_web_client(settings)
    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    who = identity or BotIdentity()

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or who.team_id,
            bot_token=bot_token,
            bot_user_id=who.user_id,
            bot_id=who.bot_id,
            user_id=user_id,
        )

    app = App(
        name="chatops",
        client=_with_token(web, None),
        signing_secret=signing_secret,
        authorize=authorize,
        # Socket Mode requests are not signed; HTTP ones always are.
        request_verification_enabled=not settings.socket_mode,
        process_before_response=process_before_response,
    )
    sections = tuple(DEFAULT_SECTIONS if home_sections is None else home_sections)
    name = team_name or settings.team
    listeners = _Listeners(
        settings=settings,
        db=db,
        web=_with_token(web, bot_token or web.token),
        clock=clock,
        team_name=name,
        home_sections=sections,
    )
    work: SlowHalves = (
        WorkProcesses(
            partial(_work_process_runner, settings, name, sections),
            fallback=listeners,
            processes=work_processes,
            threads=settings.work_threads,
            nice=settings.work_nice,
        )
        if work_processes > 0
        else InThread(listeners)
    )
    _BoltSide(listeners, work).register(app, lazy=process_before_response)
    return ServingApp(app=app, work=work)


def _work_process_runner(
    settings: Settings, team_name: str | None, home_sections: tuple[HomeSection, ...]
) -> JobRunner:
    """The listeners a work process runs jobs with: its own logging, engine and Web API client."""
    configure_logging(settings.log_level, settings.log_format)
    return _Listeners(
        settings=settings,
        db=Database(make_engine(settings.database_url)),
        web=build_web_client(settings),
        clock=system_clock,
        team_name=team_name,
        home_sections=home_sections,
    )


def _with_token(client: WebClient, token: str | None) -> WebClient:
    """The same client settings (URL, retries, timeout) with `token` (None: `authorize` adds it)."""
    return WebClient(
        token=token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        retry_handlers=client.retry_handlers,
        logger=client.logger,
    )


def _ack(ack: Ack) -> None:
    """Answer Slack before anything slow happens; the lazy listener does the work."""
    ack()


class _BoltSide:
    """The Bolt side: tag the request, acknowledge, and hand the slow half to `work`.

    Served normally, each listener acknowledges and then submits its job from Bolt's listener
    thread: the answer to Slack leaves as soon as `ack()` is called, and no copy of the request
    is made. With `process_before_response` (function-as-a-service hosts, where nothing may run
    after the answer) the jobs are Bolt lazy listeners instead.
    """

    def __init__(self, listeners: _Listeners, work: SlowHalves) -> None:
        self.listeners = listeners
        self.work = work

    def register(self, app: App, *, lazy: bool) -> None:
        app.use(self.tag_request)
        if lazy:
            app.command(SLASH_COMMAND)(ack=_ack, lazy=[self.command])
            app.action(ANY_ACTION)(ack=_ack, lazy=[self.action])
            app.event("app_home_opened")(ack=_ack, lazy=[self.home])
            app.view(ANY_FORM)(ack=self.listeners.check_form, lazy=[self.form])
            return
        app.command(SLASH_COMMAND)(_acked(self.command))
        app.action(ANY_ACTION)(_acked(self.action))
        app.event("app_home_opened")(self.home)  # Bolt acknowledges events itself
        app.view(ANY_FORM)(self.form_now)

    def form_now(self, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        if self.listeners.check_form(ack, body):
            self.form(body, context)

    def tag_request(
        self, body: dict[str, Any], context: BoltContext, next_: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Give the request its correlation id; the lazy listener's copy of the context keeps it."""
        cid = new_correlation_id()
        context[_CID] = cid
        with correlated(cid):
            log.info(
                "slack request",
                extra={"kind": _request_kind(body), "user": context.user_id},
            )
        return next_()

    def command(self, body: dict[str, Any], context: BoltContext) -> None:
        cid = _cid(context)
        # A modal is opened here, not in a work process: a trigger id works only for 3 seconds.
        with correlated(cid):
            if self.listeners.open_form(body):
                return
        self.work.submit(Job("command", body, cid))

    def action(self, body: dict[str, Any], context: BoltContext) -> None:
        self.work.submit(Job("action", body, _cid(context)))

    def form(self, body: dict[str, Any], context: BoltContext) -> None:
        self.work.submit(Job("form", body, _cid(context)))

    def home(self, event: dict[str, Any], context: BoltContext) -> None:
        self.work.submit(Job("home", event, _cid(context)))


def _acked(submit: Callable[[dict[str, Any], BoltContext], None]) -> Callable[..., None]:
    """A listener that acknowledges, then submits the job (Bolt passes arguments by name)."""

    def listener(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        submit(body, context)

    return listener


def _cid(context: BoltContext) -> str:
    return str(context.get(_CID) or new_correlation_id())


class _Listeners:
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
                self.send(
                    job.payload.get("response_url"),
                    {"response_type": "ephemeral", "replace_original": False, "text": text},
                )
            elif job.kind == "form":
                user = str((job.payload.get("user") or {}).get("id", ""))
                if user:
                    self.web.chat_postMessage(channel=user, text=text)

    # -- the slow halves ----------------------------------------------------------------------

    def run_command(self, body: dict[str, Any], cid: str) -> None:
        """Run one `/ts` line and answer it; never raises, never shows a traceback."""
        channel = body.get("channel_id")
        response_url = body.get("response_url")
        with correlated(cid):
            try:
                ctx = self.context_for(body.get("user_id", ""), channel)
                reply = (
                    dispatch(body.get("text", ""), ctx, cid=cid)
                    if isinstance(ctx, Context)
                    else ctx
                )
                post_to = ctx.channel if isinstance(ctx, Context) else channel
            except Exception:
                log.exception("slash command failed outside its handler")
                reply, post_to = internal_error_reply(cid), None
            self.send(response_url, render.command_response(reply))
            self.post_all(reply.posts, post_to, response_url, cid)

    def run_action(self, body: dict[str, Any], cid: str) -> None:
        """Run one button press: update the message in place, or answer only the clicker."""
        action = (body.get("actions") or [{}])[0]
        channel = (body.get("channel") or {}).get("id")
        message_ts = (body.get("container") or {}).get("message_ts")
        user = (body.get("user") or {}).get("id", "")
        response_url = body.get("response_url")
        with correlated(cid):
            try:
                ctx = self.context_for(user, channel)
                reply = (
                    dispatch_action(
                        str(action.get("action_id", "")), _action_value(action), ctx, cid=cid
                    )
                    if isinstance(ctx, Context)
                    else ctx
                )
                post_to = ctx.channel if isinstance(ctx, Context) else channel
            except Exception:
                log.exception("button press failed outside its handler")
                reply, post_to = internal_error_reply(cid), None
            if response_url:
                self.send(response_url, render.action_response(reply))
            elif channel and message_ts:
                self.answer_without_response_url(reply, channel, message_ts, user)
            else:
                log.warning("button press has nowhere to answer", extra={"ok": reply.ok})
            self.post_all(reply.posts, post_to, response_url, cid)

    def check_form(self, ack: Ack, body: dict[str, Any]) -> bool:
        """Answer a modal submission at once: mistakes inline under their inputs, else close it.

        The check is pure (no database), so it fits in Slack's 3 seconds. True: run the form.
        """
        view = body.get("view") or {}
        try:
            errors = form_errors(str(view.get("callback_id", "")), _form_values(view))
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
        view = body.get("view") or {}
        callback_id = str(view.get("callback_id", ""))
        values = _form_values(view)
        user = str((body.get("user") or {}).get("id", ""))
        # Where the form was asked for: the fallback channel, as for the typed command.
        channel = str(view.get("private_metadata") or "") or None
        with correlated(cid):
            try:
                if form_errors(callback_id, values):
                    return  # answered inline by `check_form`; the modal is still open
                ctx = self.context_for(user, channel)
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
                self.web.chat_postMessage(channel=user, text=reply.text, blocks=reply.blocks)
            except Exception as error:
                log.warning("form answer DM failed", extra={"error": _slack_error(error)})
            self.post_all(reply.posts, post_to, None, cid)

    def publish_home(self, event: dict[str, Any], cid: str) -> None:
        """Publish the App Home tab; a failing section is left out rather than failing the tab."""
        if event.get("tab", "home") != "home":
            return
        user = str(event.get("user", ""))
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
                log.warning("views.publish failed", extra={"error": _slack_error(error)})

    # -- helpers ------------------------------------------------------------------------------

    def context_for(self, slack_user: str, channel: str | None) -> Context | Reply:
        """The command context for a Slack user, or the reply that explains why there is none."""
        with self.db.transaction() as session:
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
            log.warning("views.open failed", extra={"error": _slack_error(error)})
            return False
        return True

    def send(self, response_url: str | None, payload: dict[str, Any]) -> bool:
        """POST to a response_url with retries; failures are logged (by status), never raised."""
        if not response_url:
            log.warning("no response_url to answer through")
            return False
        try:
            webhook = WebhookClient(
                url=response_url, timeout=WEB_API_TIMEOUT_S, retry_handlers=retry_handlers()
            )
            response = webhook.send_dict(payload)
        except Exception as error:
            log.warning("response_url unreachable", extra={"error": type(error).__name__})
            return False
        if response.status_code != 200:
            log.warning("response_url refused the answer", extra={"status": response.status_code})
            return False
        return True

    def post_all(
        self,
        posts: Sequence[Reply],
        channel: str | None,
        response_url: str | None,
        cid: str,
    ) -> None:
        """Post `Reply.posts` to the team channel; tell the asker when one could not be posted."""
        if not posts:
            return
        failed: list[str] = []
        for post in posts:
            if channel is None:
                failed.append("no channel")
                continue
            try:
                self.web.chat_postMessage(channel=channel, text=post.text, blocks=post.blocks)
            except Exception as error:
                failed.append(_slack_error(error))
                log.warning("channel post failed", extra={"channel": channel, "error": failed[-1]})
        if failed and response_url:
            where = f"<#{channel}>" if channel else "the team channel"
            self.send(
                response_url,
                {
                    "response_type": "ephemeral",
                    "replace_original": False,
                    "text": (
                        f":warning: Done, but {len(failed)} message(s) could not be posted to "
                        f"{where} ({', '.join(sorted(set(failed)))}). Reference `{cid}`."
                    ),
                },
            )

    def answer_without_response_url(
        self, reply: Reply, channel: str, message_ts: str, user: str
    ) -> None:
        """Some surfaces give no response_url: update or answer through the Web API instead."""
        try:
            if render.replaces_original(reply):
                self.web.chat_update(
                    channel=channel, ts=message_ts, text=reply.text, blocks=reply.blocks
                )
            else:
                self.web.chat_postEphemeral(
                    channel=channel, user=user, text=reply.text, blocks=reply.blocks
                )
        except Exception as error:
            log.warning("button answer failed", extra={"error": _slack_error(error)})


def _action_value(action: dict[str, Any]) -> str:
    """A button's value, or the chosen option of a select menu."""
    if "value" in action:
        return str(action["value"])
    selected = action.get("selected_option") or {}
    return str(selected.get("value", ""))


def _form_values(view: dict[str, Any]) -> FormValues:
    """A submitted view's input values (block id → action id → state)."""
    values = (view.get("state") or {}).get("values") or {}
    return values if isinstance(values, dict) else {}


def _request_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    if body.get("type") == "event_callback":
        return "event:" + str((body.get("event") or {}).get("type", "?"))
    return str(body.get("type", "unknown"))


def _slack_error(error: Exception) -> str:
    """A short error kind for logs: Slack's error code, else the exception's class name."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or f"http {error.response.status_code}")
    return type(error).__name__
