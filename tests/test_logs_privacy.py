"""Restricted case text never reaches the logs, even at DEBUG (issue #11, finding 4).

slack_sdk writes whole request and response bodies at DEBUG (a `case show` answer is one), and
SQLAlchemy quotes a failed statement's parameters (a summary) in its error: both are captured
here, in both log formats, and searched for the summary.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from chatops import audit
from chatops.db import Database
from chatops.logs import SLACK_LIBRARIES, configure_logging
from chatops.schema.migrate import upgrade
from commands.registry import dispatch
from tests.support import case_world as escalation
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, serve

SUMMARY = "WITNESS-NAME-Q7X3 lives at 12 Elm Street"
MARK = "WITNESS-NAME-Q7X3"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A stream to log to; the logging set-up is restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in (*SLACK_LIBRARIES, "alembic")}
    stream = io.StringIO()
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in saved[0]:
                root.removeHandler(handler)
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_restricted_case_shown_over_slack_is_not_logged_at_debug(
    sqlite_db: Database,
    fake_slack: FakeSlack,
    captured: io.StringIO,
    fmt: str,
) -> None:
    stream = captured
    with serve(sqlite_db, fake_slack) as served:
        configure_logging("DEBUG", fmt, stream)
        served.command(f"case open child-safety sev1 {SUMMARY}", rid="o1")
        assert "Restricted" in served.answer("o1")["text"]
        served.command("case show TS-2027-0001", user=AMIRA, rid="s1")
        shown = served.answer("s1")
        assert MARK in str(shown)  # the asker may read it: it was sent, just not logged
        logging.getLogger("slack_sdk.web.base_client").debug("body: %s", SUMMARY)
        logging.getLogger("slack_bolt.App").warning("Unhandled request ({'text': '%s'})", SUMMARY)
    logged = stream.getvalue()
    assert logged, "nothing was logged at DEBUG"
    assert MARK not in logged


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_database_error_does_not_log_the_summary(
    postgres_url: str, captured: io.StringIO, fmt: str
) -> None:
    """A database error must not quote the statement's values: here a CHECK constraint that
    PostgreSQL reports with the failing row ("Failing row contains (… summary …)")."""
    stream = captured
    db = Database.from_url(postgres_url)
    try:
        upgrade(db.engine)
        world = escalation.make_world(db)
        with db.engine.begin() as connection:
            connection.execute(
                text("ALTER TABLE ts_case ADD CONSTRAINT no_marks CHECK (summary NOT LIKE '%end')")
            )
        configure_logging("DEBUG", fmt, stream)
        line = f"case open child-safety sev1 {SUMMARY} end"
        reply = dispatch(line, world.context(escalation.ANN))
    finally:
        db.dispose()
    assert not reply.ok
    logged = stream.getvalue()
    assert "command failed" in logged  # the internal error is logged, with its reference
    assert MARK not in logged
    # What may be said is said: the kind of error, its SQLSTATE, the table and constraint.
    assert "SQLSTATE 23514" in logged and "constraint no_marks" in logged


def test_other_errors_keep_their_message_in_the_log(captured: io.StringIO) -> None:
    configure_logging("INFO", "text", captured)
    try:
        raise ValueError("the rota file has no rotations")
    except ValueError:
        logging.getLogger("chatops.test").exception("loading failed")
    logged = captured.getvalue()
    assert "ValueError: the rota file has no rotations" in logged
    assert "Traceback (most recent call last)" in logged


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_restricted_case_through_its_whole_life_leaks_nowhere(
    db: Database, captured: io.StringIO, fmt: str
) -> None:
    """Open, note, escalate, take, hand off, resolve a restricted case at DEBUG, on each database:
    its text is in the case rows only — in no Slack message, no log line, no audit export."""
    world = escalation.make_world(db)
    configure_logging("DEBUG", fmt, captured)
    ann = world.context(escalation.ANN)
    steps = [
        (ann, f"case open child-safety sev1 {SUMMARY} details:{MARK}-details"),
        (ann, f"case note TS-2027-0001 {MARK} spoke to the reporter"),
        (ann, "escalate TS-2027-0001 level 2 needs a second pair of eyes"),
        (world.context(escalation.DAN), "ack TS-2027-0001"),
        (ann, "handoff note TS-2027-0001 is in hand, see the case"),
        (world.context(escalation.DAN), f"case resolve TS-2027-0001 reported, {MARK} safe"),
    ]
    sent: list[str] = []
    for ctx, line in steps:
        reply = dispatch(line, ctx)
        assert "Something went wrong" not in reply.text, (line, reply.text)
        sent += [str(post.blocks) + post.text for post in reply.posts]  # channel posts
        world.clock.advance(timedelta(minutes=11))
        world.tick()
        sent += [str(s) for s in world.notifier.sent]
        world.notifier.sent = []
    shown = dispatch("case show TS-2027-0001", world.context(escalation.DAN))
    assert MARK in shown.text  # the case itself keeps it, for those given access
    assert sent and all(MARK not in message for message in sent)
    assert MARK not in captured.getvalue()
    audit.seal(db)
    with db.transaction() as session:
        exported = [str(event) for event in audit.export(session)]
    assert exported and all(MARK not in event for event in exported)
