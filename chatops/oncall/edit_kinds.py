"""The kinds of rota edit, listed once (`Edit`): each is a model that knows how to apply itself.

A preview stores an edit as JSON in its proposal row and Confirm reads it back with
`parse_edit`, so the models are the contract between the two (`chatops.oncall.edits`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chatops.errors import Refused
from rota import edits
from rota.edits import EditError
from rota.spec import AwareDatetime, MemberSpec, RotaSpec
from rota.yamlio import validation_messages


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def apply(self, spec: RotaSpec, author: str, now: datetime) -> RotaSpec:
        """The rota after this edit made at `now` (`EditError` when it cannot be made)."""
        raise NotImplementedError

    def pinned(self, spec: RotaSpec, now: datetime) -> Self:
        """This edit as a preview stores it: with whatever `now` decided fixed in it."""
        return self


class OverrideEdit(_Edit):
    kind: Literal["override"] = "override"
    member: str
    start: AwareDatetime
    end: AwareDatetime
    rotation: str | None = None
    reason: str = ""

    def apply(self, spec: RotaSpec, author: str, now: datetime) -> RotaSpec:
        return edits.add_override(
            spec,
            member=self.member,
            start=self.start,
            end=self.end,
            rotation=self.rotation,
            reason=self.reason,
            author=author,
        )


class SwapEdit(_Edit):
    kind: Literal["swap"] = "swap"
    first: str
    second: str
    start: AwareDatetime
    end: AwareDatetime
    reason: str = ""

    def apply(self, spec: RotaSpec, author: str, now: datetime) -> RotaSpec:
        return edits.swap(
            spec,
            first=self.first,
            second=self.second,
            start=self.start,
            end=self.end,
            reason=self.reason,
            author=author,
        )


class _MembershipEdit(_Edit):
    """Joining or leaving a rotation: it takes effect at the start of the rotation's next full
    cycle (`rota.edits.order_change`), so no shift already dealt changes."""

    member: str
    rotation: str
    # The cycle start the preview showed; Confirm refuses to apply the edit at another one.
    effective: AwareDatetime | None = None

    def pinned(self, spec: RotaSpec, now: datetime) -> Self:
        try:
            at = edits.order_change(spec, rotation=self.rotation, now=now).at
        except EditError:
            return self  # `apply` says what is wrong
        return self.model_copy(update={"effective": at})


class AddEdit(_MembershipEdit):
    kind: Literal["add"] = "add"
    new_member: MemberSpec | None = None

    def apply(self, spec: RotaSpec, author: str, now: datetime) -> RotaSpec:
        return edits.add_participant(
            spec,
            rotation=self.rotation,
            member=self.member,
            now=now,
            new_member=self.new_member,
            expected=self.effective,
        )


class RemoveEdit(_MembershipEdit):
    kind: Literal["remove"] = "remove"

    def apply(self, spec: RotaSpec, author: str, now: datetime) -> RotaSpec:
        return edits.remove_participant(
            spec, rotation=self.rotation, member=self.member, now=now, expected=self.effective
        )


class SetHandoffEdit(_Edit):
    kind: Literal["set-handoff"] = "set-handoff"
    rotation: str
    cron: str

    def apply(self, spec: RotaSpec, author: str, now: datetime) -> RotaSpec:
        return edits.set_handoff(spec, rotation=self.rotation, cron=self.cron)


#: Every kind of rota edit, in one place.
Edit = Annotated[
    OverrideEdit | SwapEdit | AddEdit | RemoveEdit | SetHandoffEdit, Field(discriminator="kind")
]
_EDIT: TypeAdapter[Edit] = TypeAdapter(Edit)


def parse_edit(data: dict[str, Any]) -> Edit:
    """An edit from its kind and parameters; a bad one is refused in the rota file's words."""
    try:
        return _EDIT.validate_python(data)
    except ValidationError as error:
        raise Refused("; ".join(validation_messages(error))) from None


def stored_edit(text: str) -> Edit:
    """An edit as a preview stored it (written by `preview`, never by a client)."""
    return _EDIT.validate_json(text)
