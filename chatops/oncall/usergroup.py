"""The @ts-oncall Slack user group, kept equal to who is on call now (CHATOPS_ONCALL_GROUP).

Anyone in the workspace can then write "@ts-oncall" in any channel and reach the responders
without knowing the rota. The members are the people `chatops.oncall.now` says are on call
(every layer, or the one named by CHATOPS_ONCALL_GROUP_LAYER), holdovers included: an
outgoing responder whose incoming has not accepted still holds the pager. When nobody is on
call (a forced gap) the group is the team's managers, as pages go to them (invariant 3), since
Slack cannot empty a group and a mention must reach someone.

The worker checks at each handoff and override boundary: `oncall_group_state.next_check_at` is
the timer, set to the next instant the on-call set can change (or `recheck` sooner, to notice
an accepted handoff). A rota edit (a new `rota_version`) makes it check at once. The list last
pushed lives in that row, so replicas and restarts agree on it: one `usergroups.users.update`
per change, none when nothing changed. The row is locked while Slack is asked, so two
workers never both push.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from chatops.db import Database, as_utc
from chatops.oncall.cache import team_rota
from chatops.oncall.groupstate import OncallGroupState
from chatops.oncall.now import holdovers, on_call
from chatops.outbox.notifier import Outcome
from chatops.team import managers, members_by_slack_id
from rota.handoffs import FOREVER
from rota.models import Team
from rota.resolve import CompiledRota
from rota.store import UnknownTeam, find_team
from rota.wallclock import from_ts, to_ts

log = logging.getLogger(__name__)

#: How far ahead the next boundary is looked for; with none, the group is checked again then.
LOOK_AHEAD = timedelta(days=31)
#: Checked at least this often between boundaries (an accepted handoff ends a holdover).
RECHECK = timedelta(minutes=1)
#: After Slack refused or failed, try again this much later.
RETRY = timedelta(seconds=30)


class GroupWriter(Protocol):
    def set_members(self, *, group: str, users: Sequence[str]) -> Outcome: ...


@dataclass(frozen=True)
class OncallGroup:
    """The group to keep (`group_id`), the layer to follow (None: every layer), and where."""

    group_id: str
    writer: GroupWriter
    layer: str | None = None
    team: str | None = None  # CHATOPS_TEAM, when the database holds several
    recheck: timedelta = RECHECK


def members_now(
    session: Session, team: Team, rota: CompiledRota, at: datetime, layer: str | None
) -> list[str]:
    """Who is on call at `at` (in `layer`), holdovers included, sorted; the managers if nobody."""
    assert team.id is not None
    found = {o.slack_id for o in on_call(rota, at) if layer is None or o.layer == layer}
    found |= {
        h.slack_id
        for h in holdovers(session, team_id=team.id, at=at)
        if layer is None or h.layer == layer
    }
    if not found:
        found = set(managers(members_by_slack_id(session, team.id)))
    return sorted(found)


def next_change(rota: CompiledRota, at: datetime, layer: str | None) -> datetime | None:
    """The first instant after `at` where a shift or override starts or ends (in `layer`)."""
    ts = to_ts(at)
    horizon = to_ts(at + LOOK_AHEAD)
    edges = [
        edge
        for start, end, *_ in rota.pieces(ts, horizon, layer)
        for edge in (start, end)
        if ts < edge < min(horizon, FOREVER)
    ]
    return from_ts(min(edges)) if edges else None


def sync(db: Database, group: OncallGroup, *, now: datetime) -> int:
    """Push the group's members if they changed and the timer is due; returns calls made."""
    with db.transaction() as session:
        try:
            team = find_team(session, group.team)
        except UnknownTeam as error:
            log.warning("on-call group: no team", extra={"reason": str(error)})
            return 0
        assert team.id is not None
        # The row is created once (a replica racing to create it does nothing), then locked.
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(OncallGroupState)
            .values(team_id=team.id, group_id=group.group_id, members="", rota_version=-1)
            .on_conflict_do_nothing(index_elements=["team_id", "group_id"])
        )
        state = session.exec(
            select(OncallGroupState)
            .where(OncallGroupState.team_id == team.id, OncallGroupState.group_id == group.group_id)
            .with_for_update()
        ).one()
        due = state.next_check_at is None or as_utc(state.next_check_at) <= now
        if not due and state.rota_version == team.rota_version:
            return 0
        rota = team_rota(session, team)
        members = members_now(session, team, rota, now, group.layer)
        following = next_change(rota, now, group.layer)
        state.next_check_at = min(d for d in (following, now + group.recheck) if d is not None)
        state.rota_version = team.rota_version
        joined = ",".join(members)
        if state.pushed_at is not None and state.members == joined:
            return 0
        outcome = group.writer.set_members(group=group.group_id, users=members)
        if not outcome.ok:
            log.warning(
                "on-call group update failed",
                extra={"group": group.group_id, "error": outcome.error},
            )
            wait = timedelta(seconds=outcome.retry_after) if outcome.retry_after else RETRY
            state.next_check_at = now + max(wait, RETRY)
            return 1
        state.members, state.pushed_at = joined, now
        log.info("on-call group updated", extra={"group": group.group_id, "members": len(members)})
        return 1
