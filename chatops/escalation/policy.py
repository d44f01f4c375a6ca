"""Escalation policies as data: who is paged at each level, how long to wait, how often to repeat.

A policy is chosen per case by type and severity (the first of the team's policies that matches,
else the built-in default). Its ladder is its levels, walked `repeat + 1` times, and then the
team's admins as the last step. Validation names every problem by its path in the rota file,
e.g. ``policies[0].levels[1].targets[0]: unknown rotation 'x'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chatops.casetypes import CaseType, Severity
from chatops.clock import parse_duration
from rota.spec import RotaSpec
from rota.yamlio import path_of

TARGET_KINDS = ("rotation", "layer", "member", "managers", "admins")
ADMINS_LEVEL = "admins"
HOURS = ("any", "working")
#: How often an unacknowledged sev1/sev2 case pages again after its last level, unless its
#: policy says otherwise: the ladder never goes quiet on a case that may be a life at risk.
URGENT_FINAL_REPEAT = timedelta(minutes=15)
URGENT_SEVERITIES = frozenset({Severity.sev1.value, Severity.sev2.value})
#: The reporting deadlines a policy may set (the bounds of `/ts case report-due` too).
REPORT_SHORTEST, REPORT_LONGEST = timedelta(minutes=15), timedelta(days=30)


class PolicyError(Exception):
    """Policies that cannot be used; `messages` are ``path: what is wrong``."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


def _duration(value: str) -> str:
    try:
        wait = parse_duration(value)
    except ValueError:
        raise PydanticCustomError(
            "duration", "'{value}' is not a duration like 5m, 2h or 1d", {"value": value}
        ) from None
    if wait <= timedelta(0):
        raise PydanticCustomError("duration", "the timeout must be longer than zero")
    return value.strip().lower()


def _target_shorthand(value: Any) -> Any:
    """Accept `managers`, `admins` and `rotation:NAME`-style strings beside mappings."""
    if not isinstance(value, str):
        return value
    kind, sep, name = value.partition(":")
    kind = kind.strip().lower()
    if kind in {"managers", "admins"} and not sep:
        return {kind: True}
    if kind in {"rotation", "layer", "member"} and name.strip():
        return {kind: name.strip()}
    raise PydanticCustomError(
        "target",
        "unknown target '{value}' (use rotation:NAME, layer:NAME, member:ID, managers, admins)",
        {"value": value},
    )


Duration = Annotated[str, AfterValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSpec(_Strict):
    """Exactly one of: the on-call of a rotation or of every rotation in a layer, a member,
    the team's managers, the team's admins."""

    rotation: str | None = None
    layer: str | None = None
    member: str | None = None
    managers: bool = False
    admins: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetSpec:
        chosen = [k for k in TARGET_KINDS if getattr(self, k)]
        if len(chosen) != 1:
            raise PydanticCustomError(
                "target", "name exactly one of rotation, layer, member, managers, admins"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in TARGET_KINDS if getattr(self, k))

    def short(self) -> str:
        """A word for the timeline: `secondary`, `apac`, `managers`."""
        if self.kind in {"managers", "admins"}:
            return self.kind
        value = str(getattr(self, self.kind))
        return f"<@{value}>" if self.member else value

    def describe(self) -> str:
        if self.rotation:
            return f"on call in rotation {self.rotation}"
        if self.layer:
            return f"on call in layer {self.layer}"
        if self.member:
            return f"<@{self.member}>"
        return "the managers" if self.managers else "the admins"


Target = Annotated[TargetSpec, BeforeValidator(_target_shorthand)]


class LevelSpec(_Strict):
    targets: tuple[Target, ...] = Field(min_length=1)
    timeout: Duration = Field(description="how long to wait for an acknowledgement, e.g. 5m")

    @property
    def wait(self) -> timedelta:
        return parse_duration(self.timeout)


class PolicySpec(_Strict):
    """Ordered levels, walked `repeat + 1` times, then the admins; then, while nobody has
    acknowledged, the admins and the on-call again every `final_repeat`.

    `hours: working` holds each page until its recipient's working hours (routine work that
    can wait for the next working day).
    """

    name: str = Field(min_length=1)
    types: tuple[CaseType, ...] = Field(default=(), description="empty: every type")
    severities: tuple[Severity, ...] = Field(default=(), description="empty: every severity")
    levels: tuple[LevelSpec, ...] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=5)
    final_repeat: Duration | None = Field(
        default=None, description="re-page after the last level; default 15m for sev1/sev2"
    )
    hours: str = Field(default="any", description="any (around the clock) or working")
    report_within: Duration | None = Field(
        default=None,
        description="a child-safety case's legal reporting deadline from its opening, e.g. 24h",
    )

    @model_validator(mode="after")
    def _known_hours(self) -> PolicySpec:
        if self.hours not in HOURS:
            raise PydanticCustomError(
                "hours", "hours must be any or working, not '{value}'", {"value": self.hours}
            )
        if self.report_within is not None:
            within = parse_duration(self.report_within)
            if not REPORT_SHORTEST <= within <= REPORT_LONGEST:
                raise PydanticCustomError(
                    "report_within",
                    "report_within must be between 15m and 30d, not '{value}'",
                    {"value": self.report_within},
                )
        return self

    def repeat_every(self, severity: str) -> timedelta | None:
        """How often the last level pages again for a case of `severity` (None: never)."""
        if self.final_repeat is not None:
            return parse_duration(self.final_repeat)
        return URGENT_FINAL_REPEAT if severity in URGENT_SEVERITIES else None

    def report_deadline(self, default: timedelta) -> timedelta:
        """The reporting deadline of a case this policy pages: its own, else the deployment's.

        A team sets it per policy because the law it answers to (and how fast it can file)
        is the team's, not the server's.
        """
        return parse_duration(self.report_within) if self.report_within else default

    @property
    def working_hours(self) -> bool:
        return self.hours == "working"

    def matches(self, case_type: str, severity: str) -> bool:
        return (not self.types or case_type in self.types) and (
            not self.severities or severity in self.severities
        )


@dataclass(frozen=True)
class Step:
    """One rung of a ladder: whom to page and how long to wait before the next rung."""

    index: int
    round: int  # 0 for the first pass, 1 for the first repeat, …
    level: str  # "1", "2", … or "admins"
    targets: tuple[TargetSpec, ...]
    wait: timedelta | None  # None on the last rung: nothing follows it


def ladder(policy: PolicySpec) -> list[Step]:
    steps: list[Step] = []
    for round_ in range(policy.repeat + 1):
        for number, level in enumerate(policy.levels, start=1):
            steps.append(Step(len(steps), round_, str(number), level.targets, level.wait))
    steps.append(Step(len(steps), policy.repeat, ADMINS_LEVEL, (TargetSpec(admins=True),), None))
    return steps


def first_step_of_level(policy: PolicySpec, level: str, *, after: int = -1) -> int | None:
    """The first ladder index showing `level` ("2", "admins") after index `after`."""
    for step in ladder(policy):
        if step.level == level and step.index > after:
            return step.index
    return None


def _level(targets: Sequence[str], timeout: str) -> dict[str, Any]:
    return {"targets": list(targets), "timeout": timeout}


DEFAULT_POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec.model_validate(
        {
            "name": "urgent (built-in)",
            "severities": ["sev1", "sev2"],
            "levels": [
                _level(["layer:primary"], "5m"),
                _level(["layer:secondary"], "5m"),
                _level(["managers"], "10m"),
            ],
            "repeat": 1,
        }
    ),
    PolicySpec.model_validate(
        {
            "name": "routine (built-in)",
            "severities": ["sev3"],
            "levels": [
                _level(["layer:primary"], "30m"),
                _level(["layer:secondary"], "30m"),
                _level(["managers"], "2h"),
            ],
            "repeat": 0,
        }
    ),
    PolicySpec.model_validate(
        {
            "name": "next working day (built-in)",
            "severities": ["sev4"],
            "levels": [
                _level(["layer:primary"], "4h"),
                _level(["layer:secondary"], "4h"),
                _level(["managers"], "1d"),
            ],
            "repeat": 0,
            "hours": "working",
        }
    ),
)


def choose_policy(policies: Sequence[PolicySpec], case_type: str, severity: str) -> PolicySpec:
    """The team's first matching policy, else the built-in one for the severity."""
    for policy in (*policies, *DEFAULT_POLICIES):
        if policy.matches(case_type, severity):
            return policy
    return DEFAULT_POLICIES[0]


def _messages(prefix: str, error: ValidationError) -> list[str]:
    errors = error.errors()
    locs = [tuple(err["loc"]) for err in errors]
    out = []
    for err in errors:
        loc = tuple(part for part in err["loc"] if not str(part).startswith("function-"))
        if err["type"] == "too_short":
            # pydantic also reports a list as too short when its only items failed: skip that
            if any(
                other[: len(err["loc"])] == tuple(err["loc"]) and len(other) > len(err["loc"])
                for other in locs
            ):
                continue
            message = "needs at least one entry"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "enum":
            message = f"unknown value {err['input']!r}; expected {err['ctx']['expected']}"
        else:
            message = str(err["msg"])
        out.append(f"{path_of((prefix, *loc)) if loc else prefix.replace('.', '')}: {message}")
    return out


def parse_policies(data: Any, rota: RotaSpec) -> list[PolicySpec]:
    """Validate the `policies:` list of a rota file against that rota, or raise PolicyError.

    Members may be named by Slack id or by name; the result names them by Slack id.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise PolicyError(["policies: expected a list of policies"])
    messages: list[str] = []
    parsed: list[tuple[int, PolicySpec]] = []
    for i, item in enumerate(data):
        try:
            parsed.append((i, PolicySpec.model_validate(item)))
        except ValidationError as error:
            messages.extend(_messages(f"policies[{i}]", error))
    rotations = {r.name for r in rota.rotations}
    layers = {r.layer for r in rota.rotations}
    by_name = {m.name: m.id for m in rota.members} | {m.id: m.id for m in rota.members}
    names: set[str] = set()
    result: list[PolicySpec] = []
    for i, policy in parsed:
        if policy.name in names:
            messages.append(f"policies[{i}].name: duplicate policy name '{policy.name}'")
        names.add(policy.name)
        levels = []
        for j, level in enumerate(policy.levels):
            targets = []
            for k, target in enumerate(level.targets):
                path = f"policies[{i}].levels[{j}].targets[{k}]"
                if target.rotation and target.rotation not in rotations:
                    messages.append(f"{path}: unknown rotation '{target.rotation}'")
                if target.layer and target.layer not in layers:
                    messages.append(f"{path}: no rotation is in layer '{target.layer}'")
                if target.member:
                    if target.member not in by_name:
                        messages.append(f"{path}: '{target.member}' is not a member of the team")
                    else:
                        target = target.model_copy(update={"member": by_name[target.member]})
                targets.append(target)
            levels.append(level.model_copy(update={"targets": tuple(targets)}))
        result.append(policy.model_copy(update={"levels": tuple(levels)}))
    if messages:
        raise PolicyError(messages)
    return result


def policy_to_data(policy: PolicySpec) -> dict[str, Any]:
    """The policy as the rota file writes it (targets in their short string form)."""
    data = policy.model_dump(mode="json", exclude_defaults=True)
    data["levels"] = [
        {
            "targets": [
                t.kind if t.kind in {"managers", "admins"} else f"{t.kind}:{getattr(t, t.kind)}"
                for t in level.targets
            ],
            "timeout": level.timeout,
        }
        for level in policy.levels
    ]
    return data
