"""What a command handler receives: who asks, the unit of work, the clock.

Handlers get these passed in (never globals) so that Slack, the console and tests all drive the
same code with their own database, clock and identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from chatops.db import Database

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Actor:
    """The member who typed the command."""

    member_id: int
    slack_id: str
    name: str
    tz: str
    role: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def is_manager(self) -> bool:
        return self.role in {"manager", "admin"}

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Context:
    db: Database
    team_id: int
    team_name: str
    actor: Actor | None
    clock: Clock
    admin_contact: str = "your team's managers"
    channel: str | None = None


class UsageError(Exception):
    """The user typed something we cannot read; `reason` is one line."""

    def __init__(self, reason: str, usage: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage


class Refused(Exception):
    """A well-formed request that is not allowed or not possible; nothing was changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
