"""Errors that services raise for people, not for logs."""

from __future__ import annotations


class Refused(Exception):
    """A well-formed request that is not allowed or not possible; nothing was changed.

    `reason` is shown to the person who asked, so it says what to do instead.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
