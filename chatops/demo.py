"""The demo team: the follow-the-sun example rota, loaded so a newcomer has something to try."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from chatops import audit
from chatops.db import Database
from rota.models import Team
from rota.store import save_rota
from rota.yamlio import load_rota_yaml

DEMO_FILE = Path(__file__).resolve().parent.parent / "examples" / "follow-the-sun.yaml"

TOUR = """Welcome to the chatops console: you are {name} ({role}, {tz}) on the {team} team.
Try:
  /ts help              the commands
  /ts who               who is on call now, in your time zone
  :as <name>            act as another member
  :advance 15m          move the clock and watch timers fire
  :quit                 leave"""


def load_demo(db: Database, *, now: datetime) -> Team:
    """Create (or replace) the demo team from the example rota, audited like any import."""
    spec = load_rota_yaml(DEMO_FILE)
    with db.transaction() as session:
        team = save_rota(session, spec)
        audit.record(
            session,
            at=now,
            actor="cli",
            action="rota.import",
            subject=f"team:{team.name}",
            team_id=team.id,
            detail={"source": "demo", "members": len(spec.members)},
        )
    return team
