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
from datetime import UTC, datetime
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from chatops import metrics
from chatops.clock import system_clock
from chatops.db import Database, make_engine
from chatops.logs import configure_logging, correlated, new_correlation_id
from chatops.replay import first_sighting, request_key
from chatops.settings import Settings
from chatops.slack.client import BotIdentity, build_web_client, with_token
from chatops.slack.home import DEFAULT_SECTIONS
from chatops.slack.listeners import HomeSection, Listeners
from chatops.slack.offload import InThread, Job, JobRunner, SlowHalves, WorkProcesses
from chatops.slack.payloads import BadPayload, check_payload
from commands.context import Clock
from commands.forms import REPORT_FORM

log = logging.getLogger(__name__)

SLASH_COMMAND = "/ts"
EVENTS_PATH = "/slack/events"
# Every action id: buttons are told apart by `commands.registry.ACTIONS`, not by Bolt.
ANY_ACTION = re.compile(r".+")
# Every modal's callback_id: forms are told apart by `commands.registry.FORMS`.
ANY_FORM = re.compile(r".+")
WEB_API_TIMEOUT_S = 15
_CID = "chatops_cid"


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
        client=with_token(web, None),
        signing_secret=signing_secret,
        authorize=authorize,
        # Socket Mode requests are not signed; HTTP ones always are.
        request_verification_enabled=not settings.socket_mode,
        process_before_response=process_before_response,
    )
    sections = tuple(DEFAULT_SECTIONS if home_sections is None else home_sections)
    name = team_name or settings.team
    listeners = Listeners(
        settings=settings,
        db=db,
        web=with_token(web, bot_token or web.token),
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
    return Listeners(
        settings=settings,
        db=Database(make_engine(settings.database_url)),
        web=build_web_client(settings),
        clock=system_clock,
        team_name=team_name,
        home_sections=home_sections,
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

    def __init__(self, listeners: Listeners, work: SlowHalves) -> None:
        self.listeners = listeners
        self.work = work

    def register(self, app: App, *, lazy: bool) -> None:
        app.use(self.refuse_replays)
        app.use(self.tag_request)
        if lazy:
            app.command(SLASH_COMMAND)(ack=_ack, lazy=[self.command])
            app.action(ANY_ACTION)(ack=_ack, lazy=[self.action])
            app.event("app_home_opened")(ack=_ack, lazy=[self.home])
            app.view(ANY_FORM)(ack=self.listeners.check_form, lazy=[self.form])
            app.shortcut(REPORT_FORM)(ack=_ack, lazy=[self.report])
            return
        app.command(SLASH_COMMAND)(_acked(self.command))
        app.shortcut(REPORT_FORM)(_acked(self.report))
        app.action(ANY_ACTION)(_acked(self.action))
        app.event("app_home_opened")(self.home)  # Bolt acknowledges events itself
        app.view(ANY_FORM)(self.form_now)

    def form_now(self, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        if self.listeners.check_form(ack, body):
            self.form(body, context)

    def refuse_replays(
        self, req: BoltRequest, body: dict[str, Any], next_: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Answer 200 and do nothing for a request already taken (Bolt has checked its signature).

        Which requests are the same one:
        - an Events API callback is known by its `event_id`. Slack retries an event it thinks we
          missed (`X-Slack-Retry-Num` 1 to 3, a fresh timestamp and signature, the same
          `event_id`); a retry of an event we took is answered 200 with no effect, and a retry of
          one we never took runs normally. Socket Mode redeliveries are caught the same way.
        - anything else (slash commands, buttons, forms, which Slack never retries) by its
          signature, which covers its timestamp and body: the same bytes sent again within the
          five minutes Bolt accepts a timestamp are a replay.
        The keys live in the database (`chatops.replay`), so replicas agree. When the database
        cannot be reached the request goes on: it could do nothing without the database anyway.
        """
        headers = req.headers
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        signature = (headers.get("x-slack-signature") or [""])[0]
        timestamp = (headers.get("x-slack-request-timestamp") or [""])[0]
        if isinstance(event_id, str) and event_id:
            key = request_key("event", event_id)
        elif signature:
            key = request_key("sig", signature)
        else:
            return next_()  # unsigned (Socket Mode) and not an event: nothing to recognise
        now = system_clock()
        sent_at = datetime.fromtimestamp(int(timestamp), UTC) if timestamp.isdigit() else now
        try:
            fresh = first_sighting(self.listeners.db, key, sent_at=min(sent_at, now), now=now)
        except Exception:
            log.warning("replay check unavailable; request served", exc_info=True)
            return next_()
        if not fresh:
            retry = (headers.get("x-slack-retry-num") or [""])[0]
            log.warning(
                "replayed request ignored", extra={"kind": _request_kind(body), "retry": retry}
            )
            metrics.replay_ignored("event" if event_id else "request")
            return BoltResponse(status=200, body="")
        return next_()

    def tag_request(
        self, body: dict[str, Any], context: BoltContext, next_: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Give the request its correlation id; the lazy listener's copy of the context keeps it.

        A payload of the wrong shape is refused here too (400): over HTTP `SlackHttpServer`
        refused it already, but Socket Mode envelopes arrive without that gate.
        """
        cid = new_correlation_id()
        try:
            check_payload(body)
        except BadPayload as error:
            log.warning("malformed slack payload refused", extra={"reason": str(error)})
            return BoltResponse(status=400, body="malformed payload")
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

    def report(self, body: dict[str, Any], context: BoltContext) -> None:
        # The form opens here, not in a work process: a trigger id works only for 3 seconds.
        with correlated(_cid(context)):
            self.listeners.open_report(body)

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


def _request_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    event = body.get("event")
    if body.get("type") == "event_callback" and isinstance(event, dict):
        return "event:" + str(event.get("type", "?"))
    return str(body.get("type", "unknown"))
