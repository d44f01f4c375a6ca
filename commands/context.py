"""What a command handler receives: who asks, the unit of work, the clock.

Handlers get these passed in (never globals) so that Slack, the console and tests all drive the
same code with their own database, clock and identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chatops.clock import Clock
from chatops.db import Database
from chatops.errors import Refused
from chatops.team import Actor

__all__ = ["Actor", "Clock", "Context", "Refused", "UsageError"]


@dataclass(frozen=True)
class Context:
    db: Database
    team_id: int
    team_name: str
    actor: Actor | None
    clock: Clock
    admin_contact: str = "your team's managers"
    channel: str | None = None
    horizon_days: int = 28
    page_limit_per_minute: int = 10
    public_url: str | None = None  # CHATOPS_PUBLIC_URL: where calendar feeds are served
    # The legal reporting clock of child-safety cases (chatops.cases.legal).
    report_within: timedelta = timedelta(hours=24)
    preserve_for: timedelta = timedelta(days=365)
    # Who typed the command, member or not (`actor` is None for a non-member).
    user_id: str | None = None
    # What a submitted form carried back untouched (Slack's `private_metadata`).
    form_metadata: str | None = None

    @property
    def asker(self) -> str | None:
        """The asking member's Slack id (`me` in a name), None for a non-member."""
        return self.actor.slack_id if self.actor else None


class UsageError(Exception):
    """The user typed something we cannot read; `reason` is one line."""

    def __init__(self, reason: str, usage: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage
