"""Who is acting: the member behind a Slack request, a console line or a button press."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Actor:
    """A member of the team, with the role that decides what they may do."""

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
