"""Naming a member the ways people do: `@display name`, first name, a Slack mention or id.

One matcher (`commands.names`) serves `/ts`, the console's `:as` and the CLI's `--member`, so
`sofia` finds Sofía Martínez everywhere, and a name two members share is answered with both.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatops.clock import ManualClock
from chatops.console import Console
from chatops.db import Database
from chatops.team import actor_for_slack_id
from commands.context import Context
from commands.names import AmbiguousName, Person, UnknownName, match, match_words
from commands.parsing import tokenize
from commands.registry import dispatch
from commands.verbs.rota import RotaCommand, RotaSwap
from rota.models import Team
from rota.spec import MemberSpec, RotaSpec, RotationSpec, TeamSpec
from rota.store import save_rota
from rota.yamlio import load_rota_yaml
from tests.support.clirun import EXAMPLE, chatops
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
AMIRA, LUKAS, SOFIA = "U01AHADDAD", "U01LBECKER", "U01SMARTIN"

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


# --- in /ts -----------------------------------------------------------------------------------


@pytest.fixture
def ctx(sqlite_db: Database) -> Context:
    return example_team_context(sqlite_db, LUKAS, NOW)


def _open(ctx: Context) -> str:
    reply = dispatch("case open harassment sev2 Pile-on against an editor", ctx)
    assert reply.ok, reply.text
    return reply.text.split("*")[1].split(" ")[0]


def test_shifts_of_at_amira_as_the_help_shows(ctx: Context) -> None:
    reply = dispatch("shifts @amira", ctx)
    assert reply.ok, reply.text
    assert f"<@{AMIRA}>'s shifts:" in str(reply.blocks)
    spaced = dispatch("shifts @Sofía Martínez days:3", ctx)
    assert spaced.ok, spaced.text
    assert f"<@{SOFIA}>'s shifts:" in str(spaced.blocks)


def test_escalate_to_at_sofia_pages_sofia_and_keeps_the_reason(ctx: Context) -> None:
    key = _open(ctx)
    reply = dispatch(f"escalate {key} to @sofia speaks Spanish", ctx)
    assert reply.ok, reply.text
    assert f"<@{SOFIA}>" in reply.text
    shown = dispatch(f"case show {key}", ctx)
    timeline = str(shown.blocks)
    assert "by <@U01LBECKER>: speaks Spanish" in timeline
    assert f"Paged <@{SOFIA}> directly, by <@U01LBECKER>" in timeline


@pytest.mark.parametrize(
    "who",
    ["@Sofía Martínez", "@sofia martinez", "sofia", f"<@{SOFIA}|sofia>", f"<@{SOFIA}>", SOFIA],
)
def test_case_assign_takes_every_form_of_a_name(ctx: Context, who: str) -> None:
    key = _open(ctx)
    reply = dispatch(f"case assign {key} {who}", ctx)
    assert reply.ok, reply.text
    assert reply.text.endswith(f"now assigned to <@{SOFIA}>.")


def test_a_rota_swap_between_two_spaced_names(ctx: Context) -> None:
    line = "rota swap @Sofía Martínez @Amira Haddad 2027-03-22 08:00 to 2027-03-23 08:00 trade"
    command = RotaCommand.parse(tokenize(line)[1:], ctx)
    assert isinstance(command, RotaSwap)
    assert (command.first, command.second, command.reason) == (SOFIA, AMIRA, "trade")


@pytest.fixture
def sams(sqlite_db: Database) -> Context:
    spec = RotaSpec(
        team=TeamSpec(name="Two Sams"),
        members=tuple(MemberSpec(id=p.slack_id, name=p.name, tz="UTC") for p in SAMS),
        rotations=(
            RotationSpec(
                name="day",
                tz="UTC",
                handoff="0 9 * * mon",
                start=datetime(2027, 1, 4, 9, tzinfo=UTC),
                participants=("US1", "US2", "UC1"),
            ),
        ),
    )
    with sqlite_db.transaction() as session:
        team = save_rota(session, spec)
        actor = actor_for_slack_id(session, team, "UC1")
    assert team.id is not None
    return Context(
        db=sqlite_db, team_id=team.id, team_name=team.name, actor=actor, clock=ManualClock(NOW)
    )


def test_an_ambiguous_name_in_a_command_is_one_line_listing_the_candidates(sams: Context) -> None:
    reply = dispatch("shifts @sam", sams)
    assert not reply.ok
    assert reply.text.splitlines() == [
        ":warning: `@sam` could be Sam Lee or Sam Park; say which",
        "Usage: `/ts shifts [@member] [days:N]`",
    ]
    assert dispatch("shifts @sam park", sams).ok


def test_an_unknown_name_in_a_command_is_one_line(sams: Context) -> None:
    reply = dispatch("shifts @cloe", sams)
    assert reply.text.splitlines()[0] == (
        ":warning: nobody on Two Sams is called `cloe` (did you mean Chloé Dubois?)"
    )


# --- the console and the CLI ------------------------------------------------------------------


def test_the_consoles_as_finds_sofia_without_her_accents(ctx: Context) -> None:
    with ctx.db.transaction() as session:
        team = session.get(Team, ctx.team_id)
    assert team is not None
    out = io.StringIO()
    console = Console(db=ctx.db, team=team, context=ctx, clock=ManualClock(NOW), out=out)
    console.handle(":as sofia")
    assert "(now acting as Sofía Martínez, responder, America/New_York)" in out.getvalue()
    assert console.context.actor is not None and console.context.actor.slack_id == SOFIA
    console.handle(":as zed")
    assert "nobody on Trust & Safety is called `zed`" in out.getvalue()
    assert console.context.actor.slack_id == SOFIA


WEEK = ("--from", "2027-03-20T00:00:00Z", "--to", "2027-03-27T00:00:00Z")


@pytest.mark.parametrize(
    ("who", "slack_id"), [("Amira", AMIRA), ("sofia", SOFIA), ("Sofía Martínez", SOFIA)]
)
def test_the_clis_member_option_takes_a_first_name(tmp_path: Path, who: str, slack_id: str) -> None:
    result = chatops("rota", "shifts", str(EXAMPLE), *WEEK, "--member", who, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shifts = json.loads(result.stdout)["shifts"]
    assert shifts and {s["member"] for s in shifts} == {slack_id}


def test_the_clis_member_option_suggests_a_close_name(tmp_path: Path) -> None:
    result = chatops("rota", "shifts", str(EXAMPLE), *WEEK, "--member", "sofai", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "chatops: --member: 'sofai' is not a member of Trust & Safety "
        "(did you mean Sofía Martínez?)"
    )


def test_me_is_the_asker_never_a_name_that_starts_with_it(ctx: Context) -> None:
    """`to me` once assigned the case to Mei Lin ("me" began her name), and with it gave her a
    restricted case: `me` is whoever asks, and two letters name nobody."""
    key = _open(ctx)
    assigned = dispatch(f"case assign {key} to me", ctx)
    assert assigned.ok and f"assigned to <@{LUKAS}>" in assigned.text
    mine = dispatch("shifts me", ctx)
    assert mine.ok and mine.blocks == dispatch("shifts", ctx).blocks  # the asker's own
    with pytest.raises(UnknownName):
        match("me", DEMO)  # the matcher alone does not know who asks: refused, not Mei
    alex = [*SAMS, Person("UA1", "Alex Kim")]
    with pytest.raises(UnknownName):
        match("al", alex)  # too short a beginning
    assert match("ale", alex).slack_id == "UA1"
