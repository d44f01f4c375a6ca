"""`/ts exposure` over real signed HTTP: the figures come back to the asker only.

The example team: Amira and Elena are responders, Lukas a manager. Whatever the answer, it is
ephemeral at the asker's response_url, and the fake Web API records no channel post of it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatops.db import Database
from tests.support.fakeslack import FakeSlack
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import AMIRA, ELENA, Served, serve

LUKAS = "U01LBECKER"


@pytest.fixture
def served(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[Served]:
    with serve(sqlite_db, fake_slack) as app:
        yield app


def test_the_figures_go_to_the_member_or_a_manager_and_nowhere_else(served: Served) -> None:
    assert served.command("exposure", user=AMIRA, rid="own").status == 200
    own = served.answer("own")
    assert own["response_type"] == "ephemeral"
    assert own["text"].startswith("Your time on graphic cases, the last 7 days: 0 min.")

    assert served.command("exposure @Amira month", user=LUKAS, rid="manager").status == 200
    managed = served.answer("manager")
    assert managed["response_type"] == "ephemeral"
    assert managed["text"].startswith(f"<@{AMIRA}>'s time on graphic cases, the last 30 days")

    assert served.command("exposure @Amira", user=ELENA, rid="peer").status == 200
    refused = served.answer("peer")
    assert refused["response_type"] == "ephemeral"
    assert refused["text"] == (
        f":warning: exposure figures are private: only <@{AMIRA}> and the managers see them"
    )
    assert served.fake.calls_to("chat.postMessage") == []
