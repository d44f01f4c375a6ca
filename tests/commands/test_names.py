"""Naming a member the ways people do: `@display name`, first name, a Slack mention or id.

One matcher (`commands.names`) serves `/ts`, the console's `:as` and the CLI's `--member`, so
`sofia` finds Sofía Martínez everywhere, and a name two members share is answered with both.
"""

from __future__ import annotations

import pytest

from commands.names import AmbiguousName, Person, UnknownName, match, match_words
from rota.yamlio import load_rota_yaml
from tests.clirun import EXAMPLE

AMIRA, SOFIA = "U01AHADDAD", "U01SMARTIN"

DEMO = [Person(m.id, m.name) for m in load_rota_yaml(EXAMPLE).members]
SAMS = [
    Person("US1", "Sam Lee"),
    Person("US2", "Sam Park"),
    Person("UC1", "Chloé Dubois"),
    Person("UJ1", "José Ángel Núñez"),
    Person("UO1", "Siobhán O’Brien"),
]


@pytest.mark.parametrize(
    ("query", "slack_id"),
    [
        ("@amira", AMIRA),
        ("amira", AMIRA),
        ("Amira", AMIRA),
        ("@Sofía Martínez", SOFIA),
        ("@sofia martinez", SOFIA),
        ("sofia", SOFIA),
        ("SOFÍA", SOFIA),
        ("@martinez", SOFIA),  # a last name that only one member has
        ("@sof", SOFIA),  # a unique beginning
        ("<@U01SMARTIN|sofia.m>", SOFIA),
        ("<@U01SMARTIN>", SOFIA),
        ("U01SMARTIN", SOFIA),
        ("@U01SMARTIN", SOFIA),
    ],
)
def test_a_member_is_found_by_any_of_the_names_people_use(query: str, slack_id: str) -> None:
    assert match(query, DEMO).slack_id == slack_id


@pytest.mark.parametrize(
    ("query", "slack_id"),
    [("@siobhan", "UO1"), ("@o'brien", "UO1"), ("Siobhán O'Brien", "UO1"), ("@jose", "UJ1")],
)
def test_accents_and_curly_apostrophes_do_not_matter(query: str, slack_id: str) -> None:
    assert match(query, SAMS).slack_id == slack_id


def test_a_shared_first_name_is_ambiguous_and_lists_the_candidates() -> None:
    with pytest.raises(AmbiguousName) as raised:
        match("@sam", SAMS, team="Two Sams")
    assert str(raised.value) == "`@sam` could be Sam Lee or Sam Park; say which"
    assert [p.slack_id for p in raised.value.candidates] == ["US1", "US2"]
    assert match("@sam park", SAMS).slack_id == "US2"


def test_an_unknown_name_says_so_and_suggests_a_close_one() -> None:
    with pytest.raises(UnknownName) as raised:
        match("@zed", SAMS, team="Two Sams")
    assert str(raised.value) == "nobody on Two Sams is called `zed`"
    with pytest.raises(UnknownName) as close:
        match("@cloe", SAMS, team="Two Sams")
    assert str(close.value) == "nobody on Two Sams is called `cloe` (did you mean Chloé Dubois?)"


def test_the_longest_run_of_words_that_names_someone_is_taken() -> None:
    words = ["@jose", "angel", "nunez", "speaks", "Spanish"]
    person, used = match_words(words, SAMS)
    assert (person.slack_id, used) == ("UJ1", 3)
    assert match_words(["@sam", "park", "tomorrow"], SAMS)[1] == 2
    assert match_words(["@chloé", "tomorrow"], SAMS) == (SAMS[2], 1)
    assert match_words(["@chloé,", "she", "speaks", "French"], SAMS) == (SAMS[2], 1)
