"""Fuzzing the way in: `/ts` lines through the real parser and handlers, payloads through HTTP.

Lines mix the language's own words with what people and attackers type (huge, unicode, RTL,
zero-width and control characters, SQL, Slack markup, out-of-range numbers and times); payloads
are signed interactions with forged action ids, other people's case ids, wrong types and missing
fields. Whatever comes in: no internal error (no "Something went wrong on our side", no logged
error), no HTTP 500, and a refused input changes no row of any table.

CI runs a few hundred examples; `make fuzz` sets CHATOPS_FUZZ_LINES / CHATOPS_FUZZ_PAYLOADS to run
10,000 lines and 2,000 payloads and prints the counts.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import SQLModel

import commands.verbs  # noqa: F401  (registers every verb and button before ACTIONS is read)
from chatops.db import Database, make_engine
from chatops.schema.migrate import upgrade
from commands.context import Context
from commands.registry import ACTIONS, dispatch, dispatch_action
from tests.support.fakeslack import FakeSlack
from tests.support.served import AMIRA, DANIEL, LUKAS, NOBODY, NOW, SECRET, Served, serve
from tests.support.slackhttp import post
from tests.support.teams import example_team_context

LINES = int(os.environ.get("CHATOPS_FUZZ_LINES", "300"))
PAYLOADS = int(os.environ.get("CHATOPS_FUZZ_PAYLOADS", "150"))
INTERNAL = "Something went wrong on our side"
COUNTS: Counter[str] = Counter()

VERBS = [
    "case", "ack", "escalate", "handoff", "rota", "swap", "shifts", "who", "policy", "help",
    "exposure",
]  # fmt: skip
WORDS = [
    "open", "show", "note", "assign", "resolve", "list", "request", "accept", "check", "override",
    "add", "remove", "set-handoff", "to", "level", "now", "today", "tomorrow", "mon", "in",
    "harassment", "threat-of-violence", "child-safety", "self-harm", "sev1", "sev2", "sev3",
    "sev4", "TS-2027-0001", "TS-2027-0002", "ts-2027-1", "TS-0000-0", "TS-9999-99999999999999",
    "@amira", "@lukas", "<@U01AHADDAD>", "<@U0NOBODY|x>", "all", "force", "restricted:yes",
    "lang:ar", "lang:zz-ZZZZ", "details:x", "rotation:emea", "days:7", "days:²", "days:0",
    "days:99999999999999999999", "days:-1", "09:00", "24:61", "2027-03-18", "2027-02-30",
    "2027-03-18T09:00Z", "0001-01-01", "9999-12-31T23:59:59+00:00", "2400-01-01", "00:00",
    "99999999h", "2h", "0s", "1w", "-5m", "week", "month",
]  # fmt: skip
HOSTILE = [
    "x" * 5000, "\u202egnirts\u202c", "\u200b\u200d\ufeff", "\x00\x07\x1b[31m",
    "'; DROP TABLE ts_case; --",
    "<!channel>", "<!here|here>", "*bold* _it_ `code` ```block```", "<https://evil.example|click>",
    "١٢:٠٠", "²³", "𝟗𝟗", "\ud7ff", "🚨" * 50, '"unbalanced', "“smart”", "\\", "\n\n", "\t",
    "%s%n", "{{7*7}}", "../../etc/passwd", "NaN", "inf", "1e309", str(2**64),
]  # fmt: skip

fuzz = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _Errors(logging.Handler):
    """Every ERROR (or worse) logged anywhere: an internal error the user may not even see."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[_Errors]:
    handler = _Errors()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


def row_counts(db: Database) -> dict[str, int]:
    """Rows of every table but the replay keys (which every request adds by design)."""
    with db.engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(select(func.count()).select_from(table)).scalar_one()
            )
            for table in SQLModel.metadata.sorted_tables
            if table.name != "seen_request"
        }


@pytest.fixture
def team(tmp_path: Path) -> Iterator[dict[str, Context]]:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'fuzz.db'}"))
    upgrade(db.engine)
    contexts = {who: example_team_context(db, who, NOW) for who in (AMIRA, LUKAS, DANIEL, NOBODY)}
    yield contexts
    db.dispose()


token = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(HOSTILE),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
line = st.one_of(
    st.builds(
        lambda verb, rest: " ".join([verb, *rest]),
        st.sampled_from(VERBS),
        st.lists(token, max_size=8),
    ),
    st.text(max_size=200),
)


def _check_reply(db: Database, before: dict[str, int], text: str, ok: bool) -> None:
    assert INTERNAL not in text
    if not ok:
        COUNTS["refused"] += 1
        assert row_counts(db) == before, "a refused input changed the database"
    else:
        COUNTS["ok"] += 1


def test_fuzzed_lines_are_answered_or_refused_never_an_internal_error(
    team: dict[str, Context], errors: _Errors
) -> None:
    db = team[AMIRA].db

    @settings(fuzz, max_examples=LINES)
    @given(text=line, who=st.sampled_from(sorted(team)))
    def run(text: str, who: str) -> None:
        before = row_counts(db)
        reply = dispatch(text, team[who])
        _check_reply(db, before, reply.text, reply.ok)
        assert not errors.records, errors.records[0].getMessage()
        COUNTS["lines"] += 1

    run()
    print(f"\nfuzz lines: {COUNTS['lines']} ({COUNTS['refused']} refused, {COUNTS['ok']} ok)")


button_value = st.one_of(
    st.sampled_from(["TS-2027-0001", "TS-2026-0001", "1", "0", "-1", str(2**63), "not json", "{}"]),
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.builds(
        lambda kind, params: json.dumps({"kind": kind, "params": params, "author": AMIRA}),
        st.sampled_from(["override", "swap", "add", "remove", "set-handoff", "nope"]),
        st.dictionaries(st.sampled_from(["member", "start", "end", "rotation", "cron"]), token),
    ),
)
action_id = st.one_of(st.sampled_from(sorted(ACTIONS)), st.text(max_size=20))


def test_fuzzed_button_values_are_answered_or_refused(
    team: dict[str, Context], errors: _Errors
) -> None:
    db = team[AMIRA].db
    dispatch("case open harassment sev3 someone else's case", team[DANIEL])

    @settings(fuzz, max_examples=max(50, PAYLOADS // 2))
    @given(action=action_id, value=button_value, who=st.sampled_from(sorted(team)))
    def run(action: str, value: str, who: str) -> None:
        before = row_counts(db)
        reply = dispatch_action(action, value, team[who])
        _check_reply(db, before, reply.text, reply.ok)
        assert not errors.records, errors.records[0].getMessage()

    run()


# -- through the signed HTTP endpoint ------------------------------------------------------------

json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _interaction(user: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "team_id": "T0FAKE"},
        "team": {"id": "T0FAKE"},
        "channel": {"id": "C0ASKED"},
        "container": {"type": "message", "message_ts": "1700000000.000100"},
        "actions": [{"action_id": "case.ack", "value": "TS-2027-0001", "type": "button"}],
    }


mutation = st.tuples(
    st.sampled_from(["user", "team", "channel", "container", "actions", "type", "view", "event"]),
    st.one_of(st.just("<delete>"), json_value),
)
interaction = st.builds(
    lambda user, action, value, mutations: (user, action, value, mutations),
    st.sampled_from([AMIRA, LUKAS, DANIEL, NOBODY, "", "U" + "9" * 30]),
    action_id,
    button_value,
    st.lists(mutation, max_size=3),
)


@pytest.fixture
def served(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[Served]:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'served.db'}"))
    upgrade(db.engine)
    with serve(db, fake_slack) as app:
        yield app
    db.dispose()


def test_fuzzed_payloads_over_http_never_get_a_500(served: Served, errors: _Errors) -> None:
    served.command("case open harassment sev3 a case to press buttons on", user=DANIEL)

    @settings(fuzz, max_examples=PAYLOADS)
    @given(case=interaction, as_text=st.booleans(), raw=st.text(max_size=64).map(str.encode))
    def run(case: tuple[str, str, str, list[tuple[str, Any]]], as_text: bool, raw: bytes) -> None:
        user, action, value, mutations = case
        payload = _interaction(user)
        payload["actions"][0].update(action_id=action, value=value)
        for field, replacement in mutations:
            if replacement == "<delete>":
                payload.pop(field, None)
            else:
                payload[field] = replacement
        body = urlencode({"payload": json.dumps(payload)}).encode() if as_text else raw
        before = row_counts(served.db)
        result = post(served.url, body, "application/x-www-form-urlencoded", SECRET)
        COUNTS[f"http {result.status}"] += 1
        assert result.status != 500, result.body
        assert "Traceback" not in result.body
        if result.status >= 400:
            assert row_counts(served.db) == before

    run()
    served.fake.wait_for(lambda c: True, count=1, timeout=2)  # let the last jobs answer
    assert not errors.records, errors.records[0].getMessage()
    shown = ", ".join(f"{k}: {v}" for k, v in sorted(COUNTS.items()) if k.startswith("http"))
    print(f"\nfuzz payloads: {PAYLOADS} ({shown})")


from tests.support.fakeslack import fake_slack as fake_slack  # noqa: E402  (the fixture)
