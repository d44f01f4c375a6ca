"""The daily coverage watch: on a cron schedule in the team's zone, tell the managers about gaps.

It also carries the care warnings over its window (`chatops.oncall.care`: shifts while away,
fatigue), as warnings and never as gaps, so a manager hears of a clash while there is time to
fix it. When `quiet`, it stays silent unless there is a gap or a shift held while away (that
one needs a taker, and soon); fatigue warnings are standing traits of a rota's design, so alone
they would make a quiet watch talk every day: they ride along whenever it does speak.

Each firing is one `CoverageWatchRun` row, unique per team and cron instant, inserted with ON
CONFLICT DO NOTHING in the same transaction that queues the managers' messages: the replica
whose insert wins sends, the others see nothing to do, and a restart finds the row and does not
send again. A firing missed while no worker ran is still done up to `grace` later.

The cron is read on local wall time in the team's zone with the rota's DST rules (a time that
does not exist happens at the transition; a repeated one happens once).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter
from sqlmodel import Session, col, select

from chatops import audit
from chatops.blockkit import Block, context, section, truncate, user_text
from chatops.db import Database
from chatops.oncall.cache import team_rota
from chatops.oncall.care import care_warnings_in
from chatops.oncall.models import CoverageWatchRun, OnCallMessage
from chatops.outbox.models import Topic
from chatops.outbox.queue import enqueue, insert_ignore
from chatops.team import managers, members_by_slack_id
from rota.coverage import coverage_gaps, describe_gap
from rota.fatigue import RotaWarning
from rota.handoffs import cron_walls
from rota.models import Team
from rota.timefmt import fmt_utc
from rota.wallclock import from_ts, to_ts, wall_to_ts, zone

log = logging.getLogger(__name__)

#: How many care warnings the message spells out; the rest are counted (`rota check` has all).
MAX_WARNINGS = 5


@dataclass(frozen=True)
class WatchSettings:
    """The watch's schedule (cron in the team's zone), horizon, and silence when all is well
    (`quiet`: no message without a gap or a shift held while away)."""

    cron: str = "0 9 * * *"
    days: int = 14
    quiet: bool = True
    grace: timedelta = timedelta(hours=6)
    enabled: bool = True

    def __post_init__(self) -> None:
        if len(self.cron.split()) != 5 or not croniter.is_valid(self.cron):
            raise ValueError(f"bad coverage watch cron expression {self.cron!r}")


DEFAULT_WATCH = WatchSettings()


def firings(cron: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Cron instants in ``[start, end)`` read in zone ``tz`` (aware UTC, increasing, distinct)."""
    zi = zone(tz)
    lo, hi = to_ts(start), to_ts(end)
    first = datetime.fromtimestamp(lo, zi).date() - timedelta(days=1)
    last = datetime.fromtimestamp(hi, zi).date() + timedelta(days=1)
    seen: list[int] = []
    for wall in cron_walls(cron, first, last):
        ts = wall_to_ts(wall, zi)
        if lo <= ts < hi and (not seen or ts > seen[-1]):
            seen.append(ts)
    return [from_ts(ts) for ts in seen]


def due_firing(cron: str, tz: str, now: datetime, grace: timedelta) -> datetime | None:
    """The latest cron instant in ``(now - grace, now]``, if any."""
    got = firings(cron, tz, now - grace + timedelta(seconds=1), now + timedelta(seconds=1))
    return got[-1] if got else None


def run_team(
    session: Session,
    *,
    team: Team,
    fire_at: datetime,
    now: datetime,
    settings: WatchSettings,
    worker_id: str,
) -> int | None:
    """Do one firing for `team` unless it was done; the gap count, or None if already done.

    A shift held while away is something to say even when `quiet` (it needs a taker as a gap
    does, less urgently); fatigue warnings alone are not (see the module docstring)."""
    assert team.id is not None
    if not insert_ignore(
        session,
        CoverageWatchRun,
        {"team_id": team.id, "fire_at": fire_at, "ran_at": now, "gaps": 0, "worker": worker_id},
    ):
        return None
    rota = team_rota(session, team)
    end = now + timedelta(days=settings.days)
    gaps = coverage_gaps(rota, now, end)
    described = [describe_gap(rota, g) for g in gaps]
    warnings = care_warnings_in(session, team.id, rota, now, end)
    run = session.exec(
        select(CoverageWatchRun).where(
            CoverageWatchRun.team_id == team.id, CoverageWatchRun.fire_at == fire_at
        )
    ).one()
    run.gaps = len(gaps)
    session.add(run)
    if gaps or any(w.rule == "away" for w in warnings) or not settings.quiet:
        text, blocks = watch_dm(
            team=team.name,
            days=settings.days,
            gaps=described,
            start=now,
            end=end,
            warnings=warnings,
        )
        for manager in managers(members_by_slack_id(session, team.id)):
            enqueue(
                session,
                topic=Topic.handoff,
                team_id=team.id,
                key=f"watch:{team.id}:{fire_at.isoformat()}:{manager}",
                kind=OnCallMessage.watch,
                recipient=manager,
                text=text,
                blocks=blocks,
                at=now,
            )
    audit.record(
        session,
        at=now,
        actor="system",
        action="coverage.watch",
        subject=f"team:{team.id}",
        team_id=team.id,
        detail={
            "fire_at": fire_at,
            "gaps": len(gaps),
            "warnings": len(warnings),
            "days": settings.days,
        },
    )
    return len(gaps)


def run_watch(db: Database, *, now: datetime, worker_id: str, settings: WatchSettings) -> int:
    """Run every team's due firing that has not run yet; returns how many ran."""
    if not settings.enabled:
        return 0
    with db.transaction() as session:
        teams = [(t.id, t.tz) for t in session.exec(select(Team).order_by(col(Team.id)))]
    ran = 0
    for team_id, tz in teams:
        fire_at = due_firing(settings.cron, tz, now, settings.grace)
        if fire_at is None:
            continue
        try:
            with db.transaction() as session:
                team = session.get(Team, team_id)
                if team is None:
                    continue
                done = run_team(
                    session,
                    team=team,
                    fire_at=fire_at,
                    now=now,
                    settings=settings,
                    worker_id=worker_id,
                )
            if done is not None:
                ran += 1
                log.info("coverage watch", extra={"team_id": team_id, "gaps": done})
        except Exception:
            log.exception("coverage watch failed", extra={"team_id": team_id})
    return ran


def next_firing(db: Database, *, now: datetime, settings: WatchSettings) -> datetime | None:
    """The next cron instant after `now` over all teams (for the worker's sleep)."""
    if not settings.enabled:
        return None
    with db.transaction() as session:
        zones = {t for t in session.exec(select(Team.tz))}
    found = [
        f[0]
        for tz in zones
        if (f := firings(settings.cron, tz, now + timedelta(seconds=1), now + timedelta(days=8)))
    ]
    return min(found) if found else None


def watch_dm(
    *,
    team: str,
    days: int,
    gaps: Sequence[str],
    start: datetime,
    end: datetime,
    warnings: Sequence[RotaWarning] = (),
) -> tuple[str, list[Block]]:
    """The coverage watch's message to one manager: each gap in UTC and local times, then the
    care warnings (a count and the first few), which never count as gaps."""
    team = user_text(team)
    care_text, care_blocks = _warning_part(warnings)
    if not gaps:
        text = f":white_check_mark: {team}: no coverage gaps in the next {days} days."
        if not warnings:
            return text, [section(text)]
        text = text[:-1] + f", but {len(warnings)} care warning(s)."
        checked = context(f"Checked {fmt_utc(start)} – {fmt_utc(end)}. All: `/ts rota check`.")
        return text + "\n" + care_text, [section(text), *care_blocks, checked]
    text = f":warning: {team}: {len(gaps)} coverage gap(s) in the next {days} days"
    blocks: list[Block] = [section(f"*{text}*")]
    for gap in gaps[:45]:
        blocks.append(section(f"```{user_text(gap, 2900)}```"))
    if len(gaps) > 45:
        blocks.append(context(f"… {len(gaps) - 45} more: `/ts rota check`"))
    blocks.extend(care_blocks)
    blocks.append(
        context(f"Checked {fmt_utc(start)} – {fmt_utc(end)}. Fix with `/ts rota …` overrides.")
    )
    return text + "\n" + "\n".join(gaps) + ("\n" + care_text if care_text else ""), blocks


def _warning_part(warnings: Sequence[RotaWarning]) -> tuple[str, list[Block]]:
    """Care warnings as `rota check` shows them: the count, then the first `MAX_WARNINGS`.

    Their text is shown as it is: away reasons in it are already `user_text`
    (`chatops.oncall.away.aways_between`)."""
    if not warnings:
        return "", []
    head = f":zzz: {len(warnings)} care warning(s) (not gaps: the rota still covers)"
    shown = "\n".join(w.describe() for w in warnings[:MAX_WARNINGS])
    if len(warnings) > MAX_WARNINGS:
        shown += f"\n… and {len(warnings) - MAX_WARNINGS} more (/ts rota check)"
    blocks = [section(f"*{head}*"), section("```" + truncate(shown, 2900) + "```")]
    return head + "\n" + shown, blocks
