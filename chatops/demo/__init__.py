"""The demo team: the follow-the-sun example rota, loaded so a newcomer has something to try."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from chatops.db import Database
from chatops.teamfile import import_rota_file, load_rota_file
from rota.models import Team

DEMO_FILE = Path(__file__).resolve().with_name("follow-the-sun.yaml")

TOUR = """Welcome to the chatops console: you are {name} ({role}, {tz}) on the {team} team.
Try:
  /ts help              the commands
  /ts who               who is on call now, in your time zone
  :as <name>            act as another member
  :advance 15m          move the clock and watch timers fire
  :quit                 leave"""


def load_demo(db: Database, *, now: datetime) -> Team:
    """Create (or replace) the demo team from the example rota, audited like any import."""
    rota_file = load_rota_file(DEMO_FILE)
    with db.transaction() as session:
        return import_rota_file(session, rota_file, actor="cli", at=now, detail={"source": "demo"})
