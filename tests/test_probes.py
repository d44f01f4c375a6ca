"""Readiness and metrics over real HTTP (#13): `/readyz` says why it is not ready, `/metrics`
counts what a signed command and a worker's pages did, work processes' counts included."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatops.clock import ManualClock
from chatops.db import Database, make_engine
from chatops.health import Readiness
from chatops.heartbeat import beat
from chatops.outbox.notifier import SlackNotifier
from chatops.probes import DatabaseGauges, Probes, ProbeServer
from chatops.schema.migrate import alembic_config
from chatops.slack import create_app
from chatops.slack.app import serving_app
from chatops.slack.http import SlackHttpServer
from chatops.worker import Worker, run_due
from rota.store import save_rota
from tests.support.fakeslack import RESPONSE_URL, FakeSlack, rate_limited
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, BOT_TOKEN, LUKAS, NOW, Served, example_rota, settings_for
from tests.support.slackhttp import HttpResult, get

STALE = timedelta(seconds=60)


def probes(db: Database, clock: ManualClock) -> Probes:
    readiness = Readiness(db, clock=clock, stale_after=STALE, cache_s=0)
    return Probes(readiness, DatabaseGauges(db, horizon_days=28, clock=clock))


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[tuple[Served, str]]:
    """The app on HTTP with probes; yields it and its base URL."""
    with sqlite_db.transaction() as session:
        save_rota(session, example_rota())
    clock = ManualClock(NOW)
    app = create_app(settings_for(fake_slack), sqlite_db, clock=clock)
    server = SlackHttpServer(app, host="127.0.0.1", port=0, probes=probes(sqlite_db, clock))
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        yield Served(url=server.url, fake=fake_slack, db=sqlite_db, clock=clock), base
    finally:
        server.stop()


def ready(base: str) -> tuple[int, dict[str, object]]:
    got = get(base + "/readyz")
    return got.status, json.loads(got.body)


def scrape(base: str) -> str:
    got = get(base + "/metrics")
    assert got.status == 200
    return got.body


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value in an exposition (0 when absent: a counter not yet incremented)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.05)


# -- /readyz --------------------------------------------------------------------------------


def test_ready_only_with_a_fresh_worker_heartbeat(served: tuple[Served, str]) -> None:
    app, base = served
    assert get(base + "/healthz").status == 200
    status, body = ready(base)
    assert status == 503 and body["reason"] == "no worker has ever run"

    beat(app.db, worker_id="w1", now=app.clock())
    status, body = ready(base)
    assert (status, body["ready"], body["database"]) == (200, True, "ok")

    app.clock.advance(STALE + timedelta(seconds=1))
    status, body = ready(base)
    assert status == 503
    assert str(body["reason"]).startswith("no worker seen for 61s")

    beat(app.db, worker_id="w2", now=app.clock())  # another replica's worker will do
    assert ready(base)[0] == 200


def test_not_ready_when_migrations_are_behind(served: tuple[Served, str]) -> None:
    from alembic import command

    app, base = served
    beat(app.db, worker_id="w1", now=app.clock())
    assert ready(base)[0] == 200

    command.downgrade(alembic_config(app.db.engine), "-1")
    status, body = ready(base)
    assert status == 503
    assert "migrations not current" in str(body["reason"])
    assert "chatops db upgrade" in str(body["reason"])


def test_still_ready_on_a_newer_release_schema_during_a_rollout(served: tuple[Served, str]) -> None:
    from sqlalchemy import text

    app, base = served
    beat(app.db, worker_id="w1", now=app.clock())
    with app.db.engine.begin() as connection:  # the next release migrated ahead of this code
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    status, body = ready(base)
    assert (status, body["schema"]) == (200, "9999")


def test_not_ready_when_the_database_is_unreachable(fake_slack: FakeSlack) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    db = Database(make_engine("postgresql://chatops@127.0.0.1:1/chatops?connect_timeout=2"))
    server = ProbeServer(probes(db, ManualClock(NOW)), host="127.0.0.1", port=0)
    base = f"http://127.0.0.1:{server.start()}"
    try:
        status, body = ready(base)
        assert (status, body["reason"]) == (503, "database unreachable")
        assert "127.0.0.1:1" not in json.dumps(body)  # no URL in the answer
        assert get(base + "/healthz").status == 200  # alive all the same
        assert get(base + "/metrics").status == 200  # the database gauges are just absent
    finally:
        server.stop()
        db.dispose()


def test_a_running_worker_makes_its_probe_server_ready(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    clock = ManualClock(NOW)
    server = ProbeServer(probes(sqlite_db, clock), host="127.0.0.1", port=0)
    base = f"http://127.0.0.1:{server.start()}"
    notifier = SlackNotifier(token=BOT_TOKEN, base_url=fake_slack.api_url)
    worker = Worker(sqlite_db, notifier, clock=clock, max_sleep=0.05)
    thread = worker.start()
    try:
        until(lambda: ready(base)[0] == 200, "the worker's first heartbeat")
    finally:
        worker.stop()
        thread.join(5)
        server.stop()
        notifier.close()


# -- /metrics -------------------------------------------------------------------------------


def test_a_signed_command_is_counted_by_verb_and_outcome(served: tuple[Served, str]) -> None:
    app, base = served
    before = scrape(base)
    assert app.command("who", rid="who1").status == 200
    app.answer("who1")
    assert app.command("rota frobnicate", rid="bad1").status == 200
    app.answer("bad1")

    after = scrape(base)
    name = "chatops_commands_total"
    assert (
        value(after, name, verb="who", outcome="ok")
        == value(before, name, verb="who", outcome="ok") + 1
    )
    assert (
        value(after, name, verb="rota", outcome="refused")
        == value(before, name, verb="rota", outcome="refused") + 1
    )
    acks = value(after, "chatops_ack_seconds_count") - value(before, "chatops_ack_seconds_count")
    assert acks >= 2


def test_pages_sent_and_429s_are_counted(served: tuple[Served, str]) -> None:
    app, base = served
    assert app.command("case open harassment sev1 metrics page", user=LUKAS, rid="c1").status == 200
    assert re.search(r"TS-\d{4}-\d{4}", app.answer("c1")["text"])
    before = scrape(base)

    app.fake.script("chat.postMessage", rate_limited(retry_after=1))
    notifier = SlackNotifier(token=BOT_TOKEN, base_url=app.fake.api_url)
    try:
        run_due(app.db, app.clock, notifier, worker_id="w1")  # the 429: nothing sent
        app.clock.advance(timedelta(seconds=2))
        run_due(app.db, app.clock, notifier, worker_id="w1")
    finally:
        notifier.close()
    after = scrape(base)

    limited = "chatops_slack_rate_limited_total"
    assert (
        value(after, limited, method="chat.postMessage")
        == value(before, limited, method="chat.postMessage") + 1
    )
    sent = value(after, "chatops_outbox_sent_total", topic="page") - value(
        before, "chatops_outbox_sent_total", topic="page"
    )
    posts = len(app.fake.calls_to("chat.postMessage")) - 1  # the 429 was not a send
    assert sent == posts >= 1
    assert value(after, "chatops_outbox_failed_total", topic="page") == value(
        before, "chatops_outbox_failed_total", topic="page"
    )  # a 429 is not a failure


def test_delivery_lag_counts_from_when_a_page_first_fell_due(
    served: tuple[Served, str],
) -> None:
    """A page held back by a 429 and then 5 s of Slack refusing is late by all of it: the lag
    runs from when it first fell due, not from its last retry or its claim."""
    app, base = served
    assert app.command("case open harassment sev1 late page", user=LUKAS, rid="c3").status == 200
    app.answer("c3")
    before = scrape(base)
    app.fake.script("chat.postMessage", rate_limited(retry_after=1))
    notifier = SlackNotifier(token=BOT_TOKEN, base_url=app.fake.api_url)
    try:
        run_due(app.db, app.clock, notifier, worker_id="w1")  # the 429
        app.clock.advance(timedelta(seconds=5))
        run_due(app.db, app.clock, notifier, worker_id="w1")
    finally:
        notifier.close()
    after = scrape(base)

    count = "chatops_outbox_delivery_lag_seconds_count"
    sent = value(after, count, topic="page") - value(before, count, topic="page")
    assert sent == len(app.fake.calls_to("chat.postMessage")) - 1 >= 1
    fast = "chatops_outbox_delivery_lag_seconds_bucket"
    for le in ("1.0", "2.0"):  # every one of them 5 s late: none in a faster bucket
        assert value(after, fast, topic="page", le=le) == value(before, fast, topic="page", le=le)
    assert (
        value(after, fast, topic="page", le="5.0") - value(before, fast, topic="page", le="5.0")
        == sent
    )


def test_coverage_gaps_are_a_gauge_per_team(served: tuple[Served, str]) -> None:
    _app, base = served
    text = scrape(base)
    teams = [
        s.labels["team"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "chatops_coverage_gaps"
    ]
    assert teams  # the example team is there, gaps or none
    assert value(text, "chatops_coverage_gap_seconds", team=teams[0]) >= 0


def test_commands_run_in_a_work_process_are_counted_by_the_serving_process(
    sqlite_url: str, sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    db = Database(make_engine(sqlite_url))
    with db.transaction() as session:
        save_rota(session, example_rota())
    app = serving_app(settings_for(fake_slack, database_url=sqlite_url, work_processes=1), db)
    server = SlackHttpServer(app.app, host="127.0.0.1", port=0, probes=probes(db, ManualClock(NOW)))
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    served = Served(url=server.url, fake=fake_slack, db=db, clock=ManualClock(NOW))
    try:
        name = "chatops_commands_total"
        before = value(scrape(base), name, verb="who", outcome="ok")
        result: HttpResult = served.command("who", user=AMIRA, rid="wp1")
        assert result.status == 200
        fake_slack.wait_for(
            lambda c: c.method == RESPONSE_URL and c.response_id == "wp1", timeout=30
        )
        until(
            lambda: value(scrape(base), name, verb="who", outcome="ok") == before + 1,
            "the work process's count in the serving process",
        )
    finally:
        server.stop()
        app.close()
        db.dispose()


def test_serve_answers_probes_on_its_port_and_on_the_metrics_port(
    sqlite_db: Database, fake_slack: FakeSlack
) -> None:
    import threading

    from chatops.slack.serve import serve
    from tests.test_serve import closed_port
    from tests.test_serve import settings_for as serve_settings

    metrics_port = closed_port()
    settings = serve_settings(fake_slack.api_url, metrics_port=metrics_port, work_processes=0)
    stop = threading.Event()
    seen: dict[str, int] = {}

    def listening(port: int) -> None:
        seen["public /readyz"] = get(f"http://127.0.0.1:{port}/readyz").status
        seen["public /metrics"] = get(f"http://127.0.0.1:{port}/metrics").status
        seen["private /healthz"] = get(f"http://127.0.0.1:{metrics_port}/healthz").status
        seen["private /metrics"] = get(f"http://127.0.0.1:{metrics_port}/metrics").status
        stop.set()

    clock = ManualClock(NOW)
    result = serve(
        settings,
        sqlite_db,
        port=0,
        worker=False,
        stop=stop,
        on_listening=listening,
        probes=probes(sqlite_db, clock),
    )
    assert result == 0
    assert seen == {
        "public /readyz": 503,  # no worker has run
        "public /metrics": 200,
        "private /healthz": 200,
        "private /metrics": 200,
    }
    with pytest.raises(OSError):  # the private port was released at the stop
        get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=1)


def test_timer_lag_is_observed_when_an_escalation_timer_fires_late(
    served: tuple[Served, str],
) -> None:
    app, base = served
    assert app.command("case open harassment sev1 lag check", user=LUKAS, rid="c2").status == 200
    app.answer("c2")
    notifier = SlackNotifier(token=BOT_TOKEN, base_url=app.fake.api_url)
    metric = "chatops_timer_lag_seconds_count"
    try:
        run_due(app.db, app.clock, notifier, worker_id="w1")  # the first pages
        before = scrape(base)
        app.clock.advance(timedelta(hours=1))  # every step of the ladder is now overdue
        run_due(app.db, app.clock, notifier, worker_id="w1")
    finally:
        notifier.close()
    after = scrape(base)
    assert value(after, metric, kind="escalation") > value(before, metric, kind="escalation")
    slow = "chatops_timer_lag_seconds_bucket"
    # Late by most of an hour: none of the new observations falls in the 1-second bucket.
    assert value(after, slow, kind="escalation", le="1.0") == value(
        before, slow, kind="escalation", le="1.0"
    )


def test_a_heartbeat_is_written_at_most_every_few_seconds_and_old_ones_forgotten(
    sqlite_db: Database,
) -> None:
    from sqlmodel import select

    from chatops.heartbeat import FORGET_AFTER, Heartbeat, WorkerHeartbeat, latest

    assert latest(sqlite_db) is None
    beat(sqlite_db, worker_id="gone", now=NOW - FORGET_AFTER - timedelta(minutes=1))
    heart = Heartbeat(sqlite_db, "w1", every=timedelta(hours=1))
    heart(NOW)
    heart(NOW + timedelta(seconds=30))  # within `every`: not written
    assert latest(sqlite_db) == NOW
    with sqlite_db.transaction() as session:
        assert [r.worker_id for r in session.exec(select(WorkerHeartbeat))] == ["w1"]


def test_a_429_met_by_a_listener_is_counted_by_method(served: tuple[Served, str]) -> None:
    app, base = served
    metric = "chatops_slack_rate_limited_total"
    before = value(scrape(base), metric, method="views.publish")
    app.fake.script("views.publish", rate_limited(retry_after=0), rate_limited(retry_after=0))
    assert app.open_home(AMIRA).status == 200
    app.fake.wait_for("views.publish", count=3)  # two 429s, then the retry that lands
    until(
        lambda: value(scrape(base), metric, method="views.publish") == before + 2,
        "both 429s counted",
    )


def test_readiness_on_each_database(db: Database) -> None:
    from alembic import command

    clock = ManualClock(NOW)
    readiness = Readiness(db, clock=clock, stale_after=STALE, cache_s=0)
    assert readiness().reason == "no worker has ever run"
    beat(db, worker_id="w1", now=clock())
    beat(db, worker_id="w1", now=clock() + timedelta(seconds=5))  # the same row, updated
    assert readiness().ready
    clock.advance(STALE + timedelta(seconds=6))
    assert not readiness().ready
    beat(db, worker_id="w1", now=clock())
    command.downgrade(alembic_config(db.engine), "-1")
    verdict = readiness()
    assert not verdict.ready and verdict.reason.startswith("migrations not current")
