"""Imports every table module so that `SQLModel.metadata` holds the whole schema."""

from chatops import audit
from chatops import heartbeat as heartbeat
from chatops import replay as replay
from chatops.cases import (
    exposure,  # noqa: F401
    exposure_settings,  # noqa: F401
    legal,  # noqa: F401
    origins,  # noqa: F401
    referrals,  # noqa: F401
)
from chatops.cases import models as cases  # noqa: F401
from chatops.escalation import models as escalation  # noqa: F401
from chatops.handoff import models as handoff  # noqa: F401
from chatops.intake import models as intake  # noqa: F401
from chatops.oncall import away as away
from chatops.oncall import feeds as feeds
from chatops.oncall import (
    groupstate,  # noqa: F401
    proposals,  # noqa: F401
)
from chatops.oncall import models as oncall  # noqa: F401
from chatops.oncall import swaps as swaps
from chatops.outbox import models as outbox  # noqa: F401
from rota import models

__all__ = ["audit", "models"]
