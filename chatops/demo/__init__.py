"""The demo team: the follow-the-sun example rota, loaded so a newcomer has something to try."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import col, select

from chatops.db import Database
from chatops.errors import Refused
from chatops.teamfile import import_rota_file, load_rota_file
from rota.models import Team

DEMO_FILE = Path(__file__).resolve().with_name("follow-the-sun.yaml")

TOUR = """Welcome to the chatops console: you are {name} ({role}, {tz}) on the {team} team.
Try:
  /ts help              the commands
  /ts who               who is on call now, in your time zone
  /ts case open child-safety sev2 Abuse images shared in a group chat
                        open a case: the on-call is paged, the reporting deadline starts
  /ts refer {case} to NCMEC country:US basis:voluntary CyberTipline report
                        record a disclosure: what went to whom, and why
  /ts case show {case}
                        the case, its reporting deadline and its referral
  :as <name>            act as another member
  :advance 15m          move the clock and watch timers fire
  :quit                 leave"""


def load_demo(db: Database, *, now: datetime, replace: bool = False) -> Team:
    """Create the demo team from the example rota, audited like any import.

    Refused when the database already holds a team: the demo's own (its rota, overrides
    included, would be lost) unless `replace`, or any other (a second team makes every
    command ask which one).
    """
    rota_file = load_rota_file(DEMO_FILE)
    name = rota_file.spec.team.name
    with db.transaction() as session:
        existing = list(session.exec(select(Team.name).order_by(col(Team.id))))
        others = [n for n in existing if n != name]
        if others:
            held = ", ".join(repr(n) for n in others)
            raise Refused(
                f"the database already holds the team(s) {held}; the demo would add another, "
                "and with several teams every command needs CHATOPS_TEAM=NAME. Load the demo "
                "into an empty database instead (another DATABASE_URL)"
            )
        if name in existing and not replace:
            raise Refused(
                f"the database already holds the demo team {name!r}; `chatops demo --replace` "
                "replaces its rota (overrides and edits included) with the demo's"
            )
        return import_rota_file(session, rota_file, actor="cli", at=now, detail={"source": "demo"})
