"""A team's exposure settings: which case types count as graphic, and the daily cap.

They come from the rota file's `exposure:` section (`chatops.teamfile`) and live in one row per
team; a team without a row has the defaults. Validation names the path of every mistake in one
line (``exposure.graphic[1]: unknown case type 'gore'; …``) and an import with a mistake
changes nothing (docs/architecture.md, invariant 8).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlmodel import Field as Column
from sqlmodel import Session, SQLModel

from chatops import audit
from chatops.casetypes import CaseType
from chatops.clock import parse_duration

#: What the issue asked for: the material that wears people down most.
DEFAULT_GRAPHIC: tuple[CaseType, ...] = (
    CaseType.child_safety,
    CaseType.terrorism,
    CaseType.self_harm,
    CaseType.threat_of_violence,
)
DEFAULT_CAP = "4h"
CAP_MIN, CAP_MAX = timedelta(minutes=30), timedelta(hours=12)


class ExposureSpec(BaseModel):
    """`graphic`: the case types whose time is counted (empty: none is); `daily_cap`: the time
    per local day after which a member is told kindly and spared the next graphic page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    graphic: tuple[str, ...] = Field(default=tuple(t.value for t in DEFAULT_GRAPHIC))
    daily_cap: str = DEFAULT_CAP

    @field_validator("graphic", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("daily_cap", mode="before")
    @classmethod
    def _cap(cls, value: Any) -> str:
        text = str(value).strip().lower()
        try:
            cap = parse_duration(text)
        except ValueError:
            raise PydanticCustomError(
                "duration", "'{value}' is not a duration like 4h or 3h30m", {"value": value}
            ) from None
        if not CAP_MIN <= cap <= CAP_MAX:
            raise PydanticCustomError(
                "cap_range",
                "'{value}' is out of range: the daily cap is from 30m to 12h",
                {"value": value},
            )
        return text

    @property
    def cap(self) -> timedelta:
        return parse_duration(self.daily_cap)

    def is_graphic(self, case_type: str) -> bool:
        return case_type in self.graphic


DEFAULT = ExposureSpec()


class ExposureError(Exception):
    """Settings that cannot be used; `messages` are ``path: what is wrong``, one line each."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


def parse_exposure(data: Any) -> ExposureSpec:
    """The `exposure:` section of a rota file, validated, or ExposureError."""
    if data is None:
        return DEFAULT
    if not isinstance(data, dict):
        raise ExposureError(["exposure: expected a mapping with graphic and daily_cap"])
    messages: list[str] = []
    known = {t.value for t in CaseType}
    graphic = data.get("graphic")
    if isinstance(graphic, list):
        valid = ", ".join(t.value for t in CaseType)
        for i, name in enumerate(graphic):
            if str(name).lower() not in known:
                messages.append(
                    f"exposure.graphic[{i}]: unknown case type '{name}'; valid types: {valid}"
                )
        data = {**data, "graphic": [str(n).lower() for n in graphic]}
    try:
        spec = ExposureSpec.model_validate(data)
    except ValidationError as error:
        for err in error.errors():
            path = ".".join(["exposure", *(str(p) for p in err["loc"])])
            reason = {"extra_forbidden": "unknown key"}.get(err["type"], str(err["msg"]))
            if err["type"] == "tuple_type":
                reason = "expected a list of case types"
            messages.append(f"{path}: {reason}")
    if messages:
        raise ExposureError(messages)
    return spec


def exposure_to_data(spec: ExposureSpec) -> dict[str, Any]:
    """The section as the rota file writes it."""
    return {"graphic": list(spec.graphic), "daily_cap": spec.daily_cap}


class ExposureSetting(SQLModel, table=True):
    """A team's own exposure settings (an `ExposureSpec` as JSON); no row: the defaults."""

    __tablename__ = "exposure_setting"

    team_id: int = Column(foreign_key="team.id", primary_key=True)
    spec: str = "{}"


def load_exposure(session: Session, *, team_id: int) -> ExposureSpec:
    row = session.get(ExposureSetting, team_id)
    return DEFAULT if row is None else ExposureSpec.model_validate_json(row.spec)


def save_exposure(
    session: Session, *, team_id: int, spec: ExposureSpec, actor: str, at: datetime
) -> None:
    """Replace the team's settings, audited; spans already running keep counting."""
    row = session.get(ExposureSetting, team_id) or ExposureSetting(team_id=team_id)
    row.spec = spec.model_dump_json()
    session.add(row)
    audit.record(
        session,
        at=at,
        actor=actor,
        action="exposure.settings",
        subject=f"team:{team_id}",
        team_id=team_id,
        detail=exposure_to_data(spec),
    )
