"""The rota as data: pydantic shapes for a team, its members, rotations and overrides.

This is what the YAML file holds and what the engine reads. It is pure: no database, no Slack.
Every validation error names its path (``rotations[1].handoff``) so a manager can fix the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError


class Role(StrEnum):
    """What a member may do: responders take pages, managers edit the rota, admins force edits."""

    responder = "responder"
    manager = "manager"
    admin = "admin"


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)


_DAY_NAMES = {day.value: day for day in Weekday} | {
    full: day
    for full, day in zip(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        Weekday,
        strict=True,
    )
}


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "naive_datetime",
            "naive datetime '{value}': add a UTC offset or 'Z' (a local time is ambiguous)",
            {"value": value.isoformat()},
        )
    return value


def _known_zone(value: str) -> str:
    """IANA names only: a fixed offset would drift across DST, and typos must not pass."""
    try:
        if not value or value != value.strip() or value.startswith(("/", ".")):
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise PydanticCustomError("time_zone", "unknown time zone '{tz}'", {"tz": value}) from None
    return value


def _cron(value: str) -> str:
    """Five fields, valid to croniter, and firing at least once (so shifts can end)."""
    expr = " ".join(value.split())
    bad = PydanticCustomError("cron", "bad cron expression '{expr}'", {"expr": value})
    if len(expr.split()) != 5:
        raise bad
    try:
        if not croniter.is_valid(expr):
            raise bad
        croniter(expr, datetime(2000, 1, 1)).get_next(datetime)  # noqa: DTZ001 (naive wall)
    except PydanticCustomError:
        raise
    except Exception:
        raise PydanticCustomError(
            "cron", "bad cron expression '{expr}': it never fires", {"expr": value}
        ) from None
    return expr


def _day(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in _DAY_NAMES:
        return _DAY_NAMES[value.strip().lower()]
    raise PydanticCustomError(
        "weekday",
        "unknown day '{day}' (use mon, tue, wed, thu, fri, sat, sun)",
        {"day": value},
    )


def _local_time(value: time) -> time:
    if value.tzinfo is not None:
        raise PydanticCustomError(
            "local_time",
            "'{value}' carries an offset: restriction times are local to the rotation's zone",
            {"value": value.isoformat()},
        )
    return value


def _participants(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise PydanticCustomError("empty_rotation", "empty rotation")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Participants = Annotated[tuple[str, ...], AfterValidator(_participants)]
ZoneName = Annotated[str, AfterValidator(_known_zone)]
CronExpr = Annotated[str, AfterValidator(_cron)]
Day = Annotated[Weekday, BeforeValidator(_day)]
LocalTime = Annotated[time, AfterValidator(_local_time)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _display_name(value: str) -> str:
    """Names are shown in Slack messages: markup there (``<!channel>``) would ping everyone."""
    if any(c in value for c in "<>") or not value.isprintable():
        raise PydanticCustomError(
            "display_name", "a name cannot hold '<', '>' or control characters", {}
        )
    return value


DisplayName = Annotated[str, AfterValidator(_display_name)]


def day_range(value: Any) -> Any:
    """Days as the file may write them: ``mon-fri``, ``mon,wed,fri`` or a list of days."""
    if not isinstance(value, str):
        return value
    out: list[Weekday] = []
    for part in value.split(","):
        first, _, last = part.strip().partition("-")
        a, b = _day(first), _day(last) if last else _day(first)
        i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
        if j < i:
            raise PydanticCustomError(
                "weekday", "day range '{part}' runs backwards", {"part": part.strip()}
            )
        out.extend(WEEKDAYS[i : j + 1])
    return tuple(dict.fromkeys(out))


class WorkingHours(_Strict):
    """When a member takes routine (``hours: working``) pages, in their own zone."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: Annotated[tuple[Day, ...], BeforeValidator(day_range)] = Field(
        default=WEEKDAYS[:5], min_length=1
    )
    start: LocalTime = Field(default=time(9, 0), alias="from")
    end: LocalTime = Field(default=time(18, 0), alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end <= self.start:
            raise PydanticCustomError(
                "working_hours",
                "working hours must end after they start ({start}–{end})",
                {"start": f"{self.start:%H:%M}", "end": f"{self.end:%H:%M}"},
            )
        return self

    def describe(self) -> str:
        days = ",".join(d.value for d in self.days)
        return f"{days} {self.start:%H:%M}–{self.end:%H:%M}"


#: 09:00–18:00 Monday to Friday: a member's working hours unless they say otherwise.
DEFAULT_WORKING_HOURS = WorkingHours()


class MemberSpec(_Strict):
    """A person on the team, keyed by their Slack user id."""

    id: str = Field(min_length=1, description="Slack user id, e.g. U024BE7LH")
    name: DisplayName = Field(min_length=1)
    tz: ZoneName = Field(description="IANA time zone, e.g. Europe/Berlin")
    languages: tuple[str, ...] = ("en",)
    role: Role = Role.responder
    working_hours: WorkingHours = DEFAULT_WORKING_HOURS

    @field_validator("working_hours", mode="wrap")
    @classmethod
    def _name_the_member(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        """A bad setting names whose it is: the file's path alone says only ``members[7]``."""
        try:
            return handler(value)
        except ValidationError as error:
            who = info.data.get("name") or info.data.get("id") or "a member"
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise PydanticCustomError(
                "working_hours",
                "{who}'s working_hours{where}: {msg}",
                {"who": who, "where": f".{where}" if where else "", "msg": first["msg"]},
            ) from None


class RestrictionSpec(_Strict):
    """A local-time window on the listed days; may cross midnight (``from`` > ``to``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: tuple[Day, ...] = Field(default=WEEKDAYS, min_length=1)
    start: LocalTime = Field(alias="from")
    end: LocalTime = Field(alias="to")


class EarlierOrder(_Strict):
    """An order the rotation followed before a member was added or removed.

    Shifts that start before ``until`` follow it; ``until`` is the start of the first full cycle
    of the order that replaced it, so that no shift already dealt changes when people join or
    leave (rota.edits).
    """

    until: AwareDatetime
    participants: Participants


class RotationSpec(_Strict):
    """An ordered list of members taking turns at handoffs given by a cron rule in ``tz``.

    ``participants`` is the order from the last ``previous`` entry's ``until`` on (from
    ``start`` when there is none), beginning with its first participant there.
    """

    name: str = Field(min_length=1)
    tz: ZoneName
    handoff: CronExpr = Field(description="cron expression read in the rotation's zone")
    start: AwareDatetime = Field(description="the rotation's handoff 0")
    participants: Participants
    shift_length: int = Field(default=1, ge=1, description="handoffs per shift")
    restrictions: tuple[RestrictionSpec, ...] = ()
    layer: str = Field(default="primary", min_length=1)
    previous: tuple[EarlierOrder, ...] = Field(
        default=(), description="earlier orders, oldest first, each with the instant it ended"
    )

    @model_validator(mode="after")
    def _orders_in_turn(self) -> RotationSpec:
        untils = [o.until for o in self.previous]
        if any(b <= a for a, b in pairwise(untils)):
            raise PydanticCustomError(
                "order_sequence", "previous orders must end in turn, oldest first"
            )
        return self

    def orders(self) -> tuple[tuple[datetime | None, tuple[str, ...]], ...]:
        """Each order with the instant it took over (None: from the start), oldest first."""
        starts: list[datetime | None] = [None, *(o.until for o in self.previous)]
        people = [*(o.participants for o in self.previous), self.participants]
        return tuple(zip(starts, people, strict=True))


class OverrideSpec(_Strict):
    """``member`` covers [start, end) instead of the rotation (or in addition, team-wide)."""

    member: str
    start: AwareDatetime
    end: AwareDatetime
    rotation: str | None = Field(default=None, description="None: team-wide, adds a responder")
    reason: str = ""
    author: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> OverrideSpec:
        if self.end < self.start:
            raise PydanticCustomError("override_order", "ends before it starts")
        if self.end == self.start:
            raise PydanticCustomError("override_order", "is empty: it ends when it starts")
        return self


class FatigueSpec(_Strict):
    """Thresholds of the fatigue warnings (`rota.fatigue`); warnings only, never gaps."""

    night_streak: int = Field(
        default=3, ge=1, le=31, description="most shifts in a row touching local night"
    )
    max_shift_hours: float = Field(default=12, gt=0, le=168, description="longest shift")
    min_rest_hours: float = Field(default=11, ge=0, le=72, description="least rest between")
    max_share: float = Field(default=0.25, gt=0, le=1, description="share of any 4 weeks")


class TeamSpec(_Strict):
    name: str = Field(min_length=1)
    tz: ZoneName = "UTC"
    channel: str | None = None
    required: int = Field(default=1, ge=1, description="members that must be on call at once")
    fatigue: FatigueSpec = FatigueSpec()


class GroupSpec(_Strict):
    """A named group of members: who reviews the cases of one type (named after it).

    The file writes groups as a mapping (``groups: {child-safety: [U…]}``); they are kept as a
    tuple of these so that a rota stays hashable. Which names are case types is for the
    application to say: the engine knows no case types.
    """

    name: str = Field(min_length=1)
    members: tuple[str, ...] = ()


def _groups(value: Any) -> Any:
    """The file's ``{name: [ids]}`` mapping as GroupSpec data, in the file's order."""
    if isinstance(value, Mapping):
        return [{"name": k, "members": v} for k, v in value.items()]
    return value


class RotaSpec(_Strict):
    """A whole team's rota: the unit that is imported, exported, checked and resolved."""

    team: TeamSpec
    members: tuple[MemberSpec, ...]
    rotations: tuple[RotationSpec, ...]
    overrides: tuple[OverrideSpec, ...] = ()
    groups: Annotated[tuple[GroupSpec, ...], BeforeValidator(_groups)] = ()
    # Escalation policies will join as ``policies: tuple[PolicySpec, ...] = ()``; their
    # reference checks go into ``reference_problems`` beside the ones below.

    @model_validator(mode="after")
    def _references(self) -> RotaSpec:
        problems = reference_problems(self)
        if problems:
            raise PydanticCustomError(
                "rota_references",
                "{summary}",
                {"problems": problems, "summary": "; ".join(f"{p}: {m}" for p, m in problems)},
            )
        return self

    def member(self, member_id: str) -> MemberSpec:
        """The member with this Slack id (KeyError when there is none)."""
        for m in self.members:
            if m.id == member_id:
                return m
        raise KeyError(member_id)

    def group(self, name: str) -> tuple[str, ...]:
        """The members of group `name` (none when the rota has no such group)."""
        return next((g.members for g in self.groups if g.name == name), ())


def reference_problems(rota: RotaSpec) -> list[tuple[str, str]]:
    """Cross-field problems as ``(path, message)``: duplicates and dangling references.

    These need the whole rota, so they run after each part validated on its own.
    """
    problems: list[tuple[str, str]] = []
    ids: set[str] = set()
    for i, m in enumerate(rota.members):
        if m.id in ids:
            problems.append((f"members[{i}].id", f"duplicate member id '{m.id}'"))
        ids.add(m.id)
    names: set[str] = set()
    for i, r in enumerate(rota.rotations):
        if r.name in names:
            problems.append((f"rotations[{i}].name", f"duplicate rotation name '{r.name}'"))
        names.add(r.name)
        for j, p in enumerate(r.participants):
            if p not in ids:
                problems.append(
                    (f"rotations[{i}].participants[{j}]", f"'{p}' is not a member of the team")
                )
        for e, earlier in enumerate(r.previous):
            for j, p in enumerate(earlier.participants):
                if p not in ids:
                    problems.append(
                        (
                            f"rotations[{i}].previous[{e}].participants[{j}]",
                            f"'{p}' is not a member of the team",
                        )
                    )
    for i, o in enumerate(rota.overrides):
        if o.member not in ids:
            problems.append((f"overrides[{i}].member", f"'{o.member}' is not a member of the team"))
        if o.rotation is not None and o.rotation not in names:
            problems.append((f"overrides[{i}].rotation", f"unknown rotation '{o.rotation}'"))
    groups: set[str] = set()
    for g in rota.groups:
        if g.name in groups:
            problems.append((f"groups.{g.name}", f"duplicate group '{g.name}'"))
        groups.add(g.name)
        for j, member in enumerate(g.members):
            if member not in ids:
                problems.append(
                    (f"groups.{g.name}[{j}]", f"'{member}' is not a member of the team")
                )
    return problems
