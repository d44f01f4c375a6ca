"""The cast every small test world shares: five people, one channel.

Ann and Ben respond, Cat manages, Dan administers, Eve speaks Arabic. Each world builds its own
rotations from them (tests/support/case_world.py, tests/support/handoff_world.py).
"""

from __future__ import annotations

from rota.spec import MemberSpec, Role

ANN, BEN, CAT, DAN, EVE = "U0ANN", "U0BEN", "U0CAT", "U0DAN", "U0EVE"
CHANNEL = "C0TEAM"

MEMBERS = (
    MemberSpec(id=ANN, name="Ann", tz="Europe/Berlin", languages=("en",)),
    MemberSpec(id=BEN, name="Ben", tz="America/New_York", languages=("en", "fr")),
    MemberSpec(id=CAT, name="Cat", tz="Europe/London", languages=("en",), role=Role.manager),
    MemberSpec(id=DAN, name="Dan", tz="Asia/Kolkata", languages=("en",), role=Role.admin),
    MemberSpec(id=EVE, name="Eve", tz="Africa/Cairo", languages=("ar", "en")),
)
