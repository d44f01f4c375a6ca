"""The engine agrees with a minute-by-minute oracle on small random rotas near 2027 DST dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.coverage import coverage_gaps
from rota.handoffs import cron_walls
from rota.load import load
from rota.resolve import CompiledRota
from rota.spec import (
    WEEKDAYS,
    MemberSpec,
    OverrideSpec,
    RestrictionSpec,
    RotaSpec,
    RotationSpec,
    TeamSpec,
)
from tests.rota.oracle import MIN, Oracle, ts

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Los_Angeles",
    "UTC",
]
# 2027 transitions: US, EU, Sydney and Lord Howe (the last two share dates).
DST_DAYS = [
    datetime(2027, 3, 14, tzinfo=UTC),
    datetime(2027, 11, 7, tzinfo=UTC),
    datetime(2027, 3, 28, tzinfo=UTC),
    datetime(2027, 10, 31, tzinfo=UTC),
    datetime(2027, 4, 3, tzinfo=UTC),
    datetime(2027, 10, 2, tzinfo=UTC),
]
MEMBERS = ("U1", "U2", "U3", "U4")
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


def hours() -> st.SearchStrategy[int]:
    """Any hour, but often the ones where 2027's DST transitions happen (local 01:00–03:59)."""
    return st.one_of(st.integers(1, 3), st.integers(0, 23))


@st.composite
def crons(draw: st.DrawFn) -> str:
    hour = draw(hours())
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    return draw(
        st.sampled_from(
            [
                f"0 {hour} * * *",
                f"{minute} {hour} * * {draw(st.integers(0, 6))}",
                f"{minute} {hour} * * 1-5",
                "0 */8 * * *",
                f"{minute} 1,2,3 * * *",
                "*/30 * * * *",
                f"{minute} 2 * * *",
            ]
        )
    )


@st.composite
def restrictions(draw: st.DrawFn) -> tuple[RestrictionSpec, ...]:
    out = []
    for _ in range(draw(st.integers(0, 2))):
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        a = draw(hours()) * 60 + draw(st.sampled_from([0, 15, 30, 45]))
        b = draw(hours()) * 60 + draw(st.sampled_from([0, 15, 30, 45]))
        out.append(
            RestrictionSpec.model_validate(
                {
                    "days": days,
                    "from": time(a // 60, a % 60),
                    "to": time(b // 60, b % 60),
                }
            )
        )
    return tuple(out)


@st.composite
def rotas(draw: st.DrawFn) -> tuple[RotaSpec, datetime, datetime]:
    lo = draw(st.sampled_from(DST_DAYS)) + timedelta(hours=draw(st.integers(-48, 24)))
    hi = lo + timedelta(hours=draw(st.integers(12, 60)))
    members = tuple(MemberSpec(id=m, name=m, tz=draw(st.sampled_from(ZONES))) for m in MEMBERS)
    rotations = []
    for i in range(draw(st.integers(1, 3))):
        rotations.append(
            RotationSpec(
                name=f"r{i}",
                tz=draw(st.sampled_from(ZONES)),
                handoff=draw(crons()),
                start=lo - timedelta(minutes=15 * draw(st.integers(-40, 200))),
                participants=tuple(
                    draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=4))
                ),
                shift_length=draw(st.integers(1, 3)),
                restrictions=draw(restrictions()),
                layer=draw(st.sampled_from(["primary", "secondary"])),
            )
        )
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        start = lo + timedelta(minutes=15 * draw(st.integers(-20, 300)))
        overrides.append(
            OverrideSpec(
                member=draw(st.sampled_from(MEMBERS)),
                rotation=draw(st.sampled_from([None, *(r.name for r in rotations)])),
                start=start,
                end=start + timedelta(minutes=15 * draw(st.integers(1, 120))),
            )
        )
    rota = RotaSpec(
        team=TeamSpec(name="t", required=draw(st.integers(1, 2))),
        members=members,
        rotations=tuple(rotations),
        overrides=tuple(overrides),
    )
    return rota, lo, hi


def _as_tuples(gaps: list) -> list[tuple[int, int, int]]:
    return [(ts(g.start), ts(g.end), g.on_call) for g in gaps]


@SETTINGS
@given(rotas(), st.sampled_from([None, "primary", "secondary"]))
def test_gaps_agree_with_oracle(
    case: tuple[RotaSpec, datetime, datetime], layer: str | None
) -> None:
    rota, lo, hi = case
    oracle = Oracle(rota, lo, hi)
    engine = CompiledRota(rota)
    required = rota.team.required
    assert _as_tuples(coverage_gaps(engine, lo, hi, layer=layer)) == oracle.gaps(required, layer)


@SETTINGS
@given(rotas(), st.data())
def test_who_is_on_call_agrees_with_oracle(
    case: tuple[RotaSpec, datetime, datetime], data: st.DataObject
) -> None:
    rota, lo, hi = case
    oracle = Oracle(rota, lo, hi)
    engine = CompiledRota(rota)
    timeline = engine.shifts(lo, hi)
    assert timeline == sorted(timeline, key=lambda s: s.start)
    for t in range(ts(lo), ts(hi), MIN):
        at = datetime.fromtimestamp(t, UTC)
        from_timeline = {
            (s.member, s.rotation, s.source) for s in timeline if s.start <= at < s.end
        }
        assert from_timeline == oracle.who(t), at
    minutes = data.draw(st.lists(st.integers(0, (ts(hi) - ts(lo)) // MIN - 1), max_size=25))
    for offset in minutes:
        t = ts(lo) + offset * MIN
        got = engine.on_call(datetime.fromtimestamp(t, UTC))
        assert {(s.member, s.rotation, s.source) for s in got} == oracle.who(t)
        for s in got:  # since/until are the full shift: the same member on both ends inside
            assert s in timeline or s.start < lo or s.end > hi


@settings(max_examples=25, deadline=None, derandomize=True)
@given(rotas())
def test_load_agrees_with_oracle(case: tuple[RotaSpec, datetime, datetime]) -> None:
    rota, lo, hi = case
    expected = Oracle(rota, lo, hi).load()
    got = load(CompiledRota(rota), lo, hi)
    assert {
        k: (
            int(v.on_call.total_seconds()),
            int(v.night.total_seconds()),
            int(v.weekend.total_seconds()),
        )
        for k, v in got.items()
    } == expected


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.sampled_from(["*/20", "0", "7,19", "0-10/3"]),
    st.sampled_from(["*", "*/8", "2", "1-3", "22,23"]),
    st.sampled_from(["*", "1", "13", "1-7", "*/10", "31"]),
    st.sampled_from(["*", "2", "1-6", "*/4"]),
    st.sampled_from(["*", "0", "1-5", "5", "mon", "sat,sun", "7"]),
)
def test_cron_fast_path_matches_croniter(
    minute: str, hour: str, dom: str, month: str, dow: str
) -> None:
    """The fast path yields exactly croniter's own naive wall-clock walk."""
    from rota.handoffs import _walls_croniter, cron_days

    expr = f"{minute} {hour} {dom} {month} {dow}"
    assert cron_days(expr) is not None
    first, last = date(2027, 1, 25), date(2027, 3, 10)
    fast = list(cron_walls(expr, first, last))
    assert fast == list(_walls_croniter(expr, first, last))
