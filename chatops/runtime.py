"""Building the worker from settings, in one place for `serve`, `worker` and the console."""

from __future__ import annotations

from collections.abc import Callable
from threading import Event

from chatops.clock import Clock, system_clock
from chatops.db import Database
from chatops.escalation.notifier import Notifier, SlackNotifier
from chatops.escalation.worker import Worker
from chatops.handoff.service import HandoffSettings
from chatops.handoff.watch import WatchSettings
from chatops.settings import Settings


def handoff_settings(settings: Settings) -> HandoffSettings:
    return HandoffSettings(
        reminder=settings.duration(settings.handoff_reminder),
        accept_within=settings.duration(settings.handoff_accept_within),
        catch_up=settings.duration(settings.handoff_catch_up),
    )


def watch_settings(settings: Settings) -> WatchSettings:
    return WatchSettings(
        cron=settings.coverage_watch_cron,
        days=settings.coverage_watch_days,
        quiet=settings.coverage_watch_quiet,
        enabled=settings.coverage_watch,
    )


def slack_notifier(settings: Settings) -> SlackNotifier:
    assert settings.slack_bot_token is not None
    return SlackNotifier.from_settings(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )


def make_worker(
    settings: Settings, db: Database, notifier: Notifier, *, clock: Clock = system_clock
) -> Worker:
    return Worker(
        db,
        notifier,
        clock=clock,
        handoffs=handoff_settings(settings),
        watch=watch_settings(settings),
    )


def run_worker_until(settings: Settings, db: Database) -> Callable[[Event], None]:
    """For `serve(run_worker=...)`: run a Slack worker in this thread until `stop` is set."""

    def run(stop: Event) -> None:
        worker = make_worker(settings, db, slack_notifier(settings))
        thread = worker.start()
        stop.wait()
        worker.stop()
        thread.join(timeout=10)

    return run
