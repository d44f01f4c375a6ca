"""Errors that services raise for people, not for logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel import Session


class Refused(Exception):
    """A well-formed request that is not allowed or not possible; nothing was changed.

    `reason` is shown to the person who asked, so it says what to do instead. `keep`, when
    given, writes what a refusal must still leave behind (an audit event of a refused look at
    a restricted case): the unit of work runs it in a fresh transaction after rolling back.
    """

    def __init__(self, reason: str, *, keep: Callable[[Session], object] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.keep = keep
