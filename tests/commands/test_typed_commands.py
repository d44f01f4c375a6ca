"""The typed layer of `/ts`: words become frozen models with real types before anything runs.

These read lines straight into models (no handler runs), so a wrong enum, a time read in the
wrong zone or a leaked pydantic error shows up here, not only as a different reply text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import Field, ValidationError
from sqlmodel import col, select

from chatops.blockkit import Reply
from chatops.cases.models import Case, CaseEvent, CaseType, Severity
from chatops.db import Database
from commands.command import Command
from commands.context import Context, Refused, UsageError
from commands.parsing import tokenize
from commands.registry import VERBS, Verb, Words, dispatch, verb
from commands.verbs.ack import Ack
from commands.verbs.case import OPEN_USAGE, CaseCommand, CaseList, CaseOpen, CaseShow
from commands.verbs.escalate import Escalate
from commands.verbs.handoff import HandoffAccept, HandoffCommand, HandoffNote, HandoffPost
from commands.verbs.help import Help
from commands.verbs.rota import RotaAdd, RotaCheck, RotaCommand, RotaOverride
from commands.verbs.shifts import Shifts
from commands.verbs.swap import SwapCommand, SwapRequest
from commands.verbs.who import Who
from tests.support.teams import example_team_context

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
BERLIN, KOLKATA, AMIRA = "U01LBECKER", "U01PRAMAN0", "U01AHADDAD"


@pytest.fixture
def ctx(sqlite_db: Database) -> Context:
    return example_team_context(sqlite_db, BERLIN, NOW)


def words(line: str) -> list[str]:
    """The words after the verb, as `dispatch` hands them to a verb's parse."""
    return tokenize(line)[1:]


def test_every_verb_of_the_product_reads_into_its_own_command_model() -> None:
    import commands.verbs  # noqa: F401  (registers them all)

    for name, found in VERBS.items():
        owner = getattr(found.parse, "__self__", None)
        assert isinstance(owner, type) and issubclass(owner, Command), name
        assert owner is not Words, name


def test_case_open_gives_enums_and_leaves_restriction_to_the_type(ctx: Context) -> None:
    command = CaseCommand.parse(
        words('case open Self-Harm SEV1 Someone posted a goodbye note lang:de details:"wiki X"'),
        ctx,
    )
    assert command == CaseOpen(
        case_type=CaseType.self_harm,
        severity=Severity.sev1,
        summary="Someone posted a goodbye note",
        details="wiki X",
        language="de",
        restricted=None,
    )
    assert isinstance(command, CaseOpen)
    assert command.case_type is CaseType.self_harm and command.severity is Severity.sev1
    said_no = CaseOpen.parse(words("open self-harm sev1 x restricted:No"), ctx)
    assert said_no.restricted is False


def test_restricted_text_stays_out_of_a_commands_repr(ctx: Context) -> None:
    command = CaseOpen.parse(words('open harassment sev2 Secret-summary details:"Secret-det"'), ctx)
    assert "Secret" not in repr(command) and "Secret" not in str(command)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("case open harassment sev9 x", "unknown severity `sev9`; valid severities: "),
        (
            "case open harasment sev1 x",
            "unknown case type `harasment` (did you mean `harassment`?)",
        ),
        ("case open harassment sev1 x lang:1", "`lang:1` is not a language code like ar or pt-BR"),
        ("case open harassment sev1 x restricted:maybe", "restricted: takes yes or no"),
    ],
)
def test_a_bad_case_open_is_a_usage_error_with_the_open_usage(
    ctx: Context, line: str, reason: str
) -> None:
    with pytest.raises(UsageError) as raised:
        CaseCommand.parse(words(line), ctx)
    assert raised.value.reason.startswith(reason)
    assert raised.value.usage == OPEN_USAGE


def test_a_near_miss_option_is_refused_not_read_as_summary(ctx: Context) -> None:
    with pytest.raises(UsageError, match=r"^unknown option `lagn:` \(did you mean `lang:`\?\)$"):
        CaseOpen.parse(words("open harassment sev1 x lagn:de"), ctx)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("open harassment sev1 x lang:zh lang:ar", "`lang:` is given twice; give it once"),
        ("open harassment sev1 x lang:", "`lang:` needs a value after the colon"),
    ],
)
def test_an_option_given_twice_or_empty_is_refused_not_dropped(
    ctx: Context, line: str, reason: str
) -> None:
    with pytest.raises(UsageError) as raised:
        CaseOpen.parse(words(line), ctx)
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    "invisible",
    [
        "\x00\x00",
        "\u200b",
        " \u200e \t",
        '""',
        "“”",
        "''",
        "\u2800",
        "\u3164",
        "＂＂",
        "「」",
        "〝〞",
        "❝❞",
    ],
)
def test_a_note_or_summary_that_shows_nothing_is_refused(ctx: Context, invisible: str) -> None:
    assert dispatch("case open harassment sev3 Doxxing thread", ctx).ok
    note = dispatch(f"case note TS-2027-0001 {invisible}", ctx)
    assert not note.ok and "the note is empty" in note.text
    opened = dispatch(f"case open harassment sev3 {invisible}", ctx)
    assert not opened.ok


def test_a_reason_that_says_nothing_is_left_out_and_quoted_words_are_kept(ctx: Context) -> None:
    """`resolve TS-… ""` (or a zero-width space) resolves with no reason, not with the quote
    marks as one; a note in quotes is kept as typed, quotes and all (evidence)."""
    assert dispatch("case open harassment sev3 Doxxing thread", ctx).ok
    assert dispatch('case note TS-2027-0001 "he said: leave"', ctx).ok
    assert dispatch('case resolve TS-2027-0001 ""', ctx).ok
    with ctx.db.transaction() as session:
        events = session.exec(select(CaseEvent).order_by(col(CaseEvent.id))).all()
    texts = {e.kind: e.text for e in events}
    assert texts["note"] == '"he said: leave"'
    assert texts["resolved"] in ("", None)


def test_case_assign_reads_to_as_people_type_it_and_mistakes_show_its_own_usage(
    ctx: Context,
) -> None:
    assert dispatch("case open harassment sev3 Doxxing thread", ctx).ok
    assert dispatch("case assign TS-2027-0001 to @amira", ctx).ok
    with ctx.db.transaction() as session:
        case = session.exec(select(Case)).one()
    assert case.assignee == "U01AHADDAD"
    for line in ("case assign TS-2027-0001 to", "case assign TS-2027-0001 to @nobody"):
        reply = dispatch(line, ctx)
        assert not reply.ok and "/ts case assign TS-YYYY-NNNN [to] @member" in reply.text
    reply = dispatch("case open harassment sev3 x lang:ar lang:fr", ctx)
    assert not reply.ok and "given twice" in reply.text and OPEN_USAGE in reply.text


def test_a_long_escaped_text_is_never_cut_inside_an_escape() -> None:
    from chatops.blockkit import truncate, user_text

    for pad in range(6):
        cut = truncate(user_text("x" * pad + "&" * 1000), 3000)
        assert len(cut) <= 3000 and cut.endswith("…")
        assert cut[:-1].endswith("&amp;") or cut[:-1].endswith("x"), cut[-8:]


def test_a_bad_severity_lists_every_valid_one(ctx: Context) -> None:
    with pytest.raises(UsageError) as raised:
        CaseOpen.parse(words("open harassment urgent x"), ctx)
    assert raised.value.reason == (
        "unknown severity `urgent`; valid severities: sev1, sev2, sev3, sev4"
    )


def test_models_are_frozen() -> None:
    opened = CaseOpen(case_type=CaseType.other, severity=Severity.sev4, summary="x")
    with pytest.raises(ValidationError, match="frozen"):
        opened.severity = Severity.sev1  # type: ignore[misc]
    assert hash(Ack(key="TS-2027-0001")) == hash(Ack(key="TS-2027-0001"))


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (
            lambda: CaseOpen(case_type="bullying", severity="sev1", summary="x"),
            "case_type: Input should be 'threat-of-violence', ",
        ),
        (
            lambda: CaseList(colour="red"),  # type: ignore[call-arg]
            "colour: Extra inputs are not permitted",
        ),
        (lambda: Shifts(member=None, days=61), "days: Input should be less than or equal to 60"),
        (lambda: CaseShow(key="42"), "key: '42' is not a case id (they look like TS-2027-0042)"),
        (lambda: Who(at=datetime(2027, 3, 20, 12)), "at: Input should have timezone info"),
    ],
)
def test_a_value_a_model_rejects_is_a_one_line_usage_error(
    build: Callable[[], Command], reason: str
) -> None:
    """Whoever builds the model (a parse, a button, a form): never pydantic's own report."""
    with pytest.raises(UsageError) as raised:
        build()
    assert raised.value.reason.startswith(reason)
    assert "\n" not in raised.value.reason and "pydantic" not in raised.value.reason


def test_a_case_id_that_is_not_one_is_refused_in_the_services_words(ctx: Context) -> None:
    with pytest.raises(Refused, match=r"^'42' is not a case id \(they look like TS-2027-0042\)$"):
        CaseCommand.parse(["show", "42"], ctx)
    # …but only once the line's own mistakes are told, as before the typed layer.
    with pytest.raises(UsageError, match="the note is empty"):
        CaseCommand.parse(["note", "42"], ctx)
    assert Ack.parse(["ts-2027-42"], ctx).key == "ts-2027-42"


def test_rota_override_reads_both_ends_in_the_askers_zone_and_keeps_utc(
    sqlite_db: Database,
) -> None:
    line = "rota override @amira tomorrow 08:00 to tomorrow 18:00 rotation:emea force sick cover"
    berlin = RotaCommand.parse(words(line), example_team_context(sqlite_db, BERLIN, NOW))
    assert berlin == RotaOverride(
        member=AMIRA,
        start=datetime(2027, 3, 21, 7, 0, tzinfo=UTC),  # 08:00 CET
        end=datetime(2027, 3, 21, 17, 0, tzinfo=UTC),
        rotation="emea",
        reason="sick cover",
        force=True,
    )
    assert isinstance(berlin, RotaOverride)
    assert berlin.start.tzinfo is UTC and berlin.end.tzinfo is UTC
    kolkata = RotaCommand.parse(words(line), example_team_context(sqlite_db, KOLKATA, NOW))
    assert isinstance(kolkata, RotaOverride)
    assert kolkata.start == datetime(2027, 3, 21, 2, 30, tzinfo=UTC)  # 08:00 IST
    assert kolkata.end - kolkata.start == timedelta(hours=10)


def test_an_iso_time_with_an_offset_becomes_the_same_instant_in_utc(ctx: Context) -> None:
    command = RotaCommand.parse(
        words("rota override @amira 2027-03-21T08:00+05:00 to 2027-03-21T18:00Z"), ctx
    )
    assert isinstance(command, RotaOverride)
    assert command.start == datetime(2027, 3, 21, 3, 0, tzinfo=UTC)
    assert command.start.utcoffset() == timedelta(0)
    assert (command.rotation, command.force, command.reason) == (None, False, "")


def test_rota_sub_verb_mistakes_carry_that_sub_verbs_usage(ctx: Context) -> None:
    with pytest.raises(UsageError) as raised:
        RotaCommand.parse(["check", "days:0"], ctx)
    assert raised.value.reason == "unexpected `days:0` (days:N takes 1 to 366)"
    assert raised.value.usage == "/ts rota check [days:N]"
    assert RotaCommand.parse(["check"], ctx) == RotaCheck(days=ctx.horizon_days)
    with pytest.raises(UsageError, match=r"unknown rota action `shwo` \(did you mean `show`\?\)"):
        RotaCommand.parse(["shwo"], ctx)


def test_rota_add_of_a_newcomer_carries_their_member_spec(ctx: Context) -> None:
    command = RotaCommand.parse(
        words('rota add <@UE> to apac tz:Australia/Sydney name:"Eve Wu" lang:en,zh'), ctx
    )
    assert isinstance(command, RotaAdd)
    assert command.new_member is not None
    assert (command.new_member.tz, command.new_member.languages) == (
        "Australia/Sydney",
        ("en", "zh"),
    )
    assert command.params()["new_member"]["name"] == "Eve Wu"


def test_who_reads_its_time_in_the_askers_zone_and_now_stays_now(sqlite_db: Database) -> None:
    kolkata = example_team_context(sqlite_db, KOLKATA, NOW)
    assert Who.parse(words("who at 2027-03-21 09:00"), kolkata) == Who(
        at=datetime(2027, 3, 21, 3, 30, tzinfo=UTC)
    )
    assert Who.parse(words("who at now"), kolkata) == Who.parse([], kolkata) == Who(at=None)


def test_shifts_swap_escalate_handoff_and_help_read_typed_fields(ctx: Context) -> None:
    assert Shifts.parse(["all", "days:3"], ctx) == Shifts(member=None, days=3)
    assert Shifts.parse([], ctx) == Shifts(member=BERLIN, days=7)
    assert SwapCommand.parse(
        words("swap request tomorrow 08:00 to tomorrow 18:00 dentist"), ctx
    ) == (
        SwapRequest(
            start=datetime(2027, 3, 21, 7, 0, tzinfo=UTC),
            end=datetime(2027, 3, 21, 17, 0, tzinfo=UTC),
            reason="dentist",
        )
    )
    assert Escalate.parse(words("escalate TS-2027-0042 to @amira level Admins speaks ar"), ctx) == (
        Escalate(key="TS-2027-0042", to_member=AMIRA, to_level="admins", reason="speaks ar")
    )
    assert HandoffCommand.parse([], ctx) == HandoffPost()
    assert HandoffCommand.parse(["Accept"], ctx) == HandoffAccept(handoff_id=None)
    assert HandoffCommand.parse(["note", "a", "b"], ctx) == HandoffNote(text="a b")
    assert Help.parse(["ROTA"], ctx) == Help(topic="rota")
    with pytest.raises(UsageError, match=r"no command `hepl` \(did you mean `help`\?\)"):
        Help.parse(["hepl"], ctx)


class _Count(Command):
    """A throwaway verb whose model rejects what its parse lets through."""

    n: int = Field(ge=1)

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> _Count:
        return cls(n=int(args[0]) if args and args[0].lstrip("-").isdigit() else 0)

    def run(self, ctx: Context) -> Reply:
        return Reply(text=f"counted {self.n}")


@pytest.fixture
def count_verb() -> Iterator[None]:
    verb("count", summary="Test: count.", usage="/ts count N")(_Count)
    yield
    del VERBS["count"]


def test_a_models_own_rejection_is_one_line_with_usage_never_pydantics_text(
    ctx: Context, count_verb: None
) -> None:
    assert dispatch("count 3", ctx).text == "counted 3"
    reply = dispatch("count 0", ctx)
    assert not reply.ok
    assert reply.text == (
        ":warning: n: Input should be greater than or equal to 1\nUsage: `/ts count N`"
    )
    assert "pydantic" not in reply.text and "validation error" not in reply.text


def test_a_plain_function_can_still_be_a_verb(ctx: Context) -> None:
    def echo(args: list[str], ctx: Context) -> Reply:
        return Reply(text=" ".join(reversed(args)))

    verb("echo", summary="Test: echo.", usage="/ts echo …")(echo)
    try:
        found: Verb = VERBS["echo"]
        assert found.parse(["a", "b"], ctx) == Words(words=("a", "b"), handler=echo)
        assert dispatch('echo a "b c"', ctx).text == "b c a"
    finally:
        del VERBS["echo"]


def test_the_first_word_of_a_long_type_is_suggested_and_nothing_opens(ctx: Context) -> None:
    """People type "threat" for threat-of-violence: the refusal names the type, opens nothing."""
    reply = dispatch("case open threat sev1 he says he'll come tomorrow", ctx)
    assert not reply.ok
    assert "(did you mean `threat-of-violence`?)" in reply.text.splitlines()[0]
    listed = dispatch("case list", ctx)
    assert listed.text == "No open cases."
