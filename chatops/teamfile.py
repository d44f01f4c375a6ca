"""A team's file as the application reads it: the rota plus its escalation policies.

It sits above `chatops.oncall` and `chatops.escalation` because it spans both.

Reviewer groups (`groups:`) are checked here too: the engine keeps them as named member lists,
and only the application knows that each name must be a case type.

The rota engine (`rota/`) validates the rota; the `policies:` section is validated here against
that rota, because policies belong to escalation. The `exposure:` section (which case types
count as graphic, the daily cap) is validated by `chatops.cases.exposure_settings`. Import saves
all of them in one transaction with their audit events; export writes them back, so a file
round-trips through the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlmodel import Session

from chatops import audit
from chatops.cases.exposure_settings import (
    DEFAULT as DEFAULT_EXPOSURE,
)
from chatops.cases.exposure_settings import (
    ExposureError,
    ExposureSpec,
    exposure_to_data,
    load_exposure,
    parse_exposure,
    save_exposure,
)
from chatops.casetypes import group_problems
from chatops.escalation.policy import PolicyError, PolicySpec, parse_policies, policy_to_data
from chatops.escalation.store import load_policies, save_policies
from rota.models import Team
from rota.spec import RotaSpec
from rota.store import load_rota, save_rota
from rota.yamlio import RotaError, dump_rota_yaml, read_rota_document


@dataclass(frozen=True)
class RotaFile:
    spec: RotaSpec
    policies: list[PolicySpec] | None  # None: the file has no policies section
    exposure: ExposureSpec | None = None  # None: the file has no exposure section


def load_rota_file(source: str | Path) -> RotaFile:
    """Read and validate a rota file; every problem comes back as one `RotaError`."""
    spec, extensions = read_rota_document(source)
    problems = group_problems([g.name for g in spec.groups])
    exposure: ExposureSpec | None = None
    if "exposure" in extensions:
        try:
            exposure = parse_exposure(extensions["exposure"])
        except ExposureError as error:
            problems.extend(error.messages)
    if problems:
        raise RotaError(problems)
    if "policies" not in extensions:
        return RotaFile(spec, None, exposure)
    try:
        return RotaFile(spec, parse_policies(extensions["policies"], spec), exposure)
    except PolicyError as error:
        raise RotaError(list(error.messages)) from None


def import_rota_file(
    session: Session, rota_file: RotaFile, *, actor: str, at: datetime, detail: dict[str, object]
) -> Team:
    """Replace the team's rota (and its policies when the file has some), audited."""
    team = save_rota(session, rota_file.spec)
    assert team.id is not None
    audit.record(
        session,
        at=at,
        actor=actor,
        action="rota.import",
        subject=f"team:{team.name}",
        team_id=team.id,
        detail={"members": len(rota_file.spec.members), **detail},
    )
    if rota_file.policies is not None:
        save_policies(session, team_id=team.id, policies=rota_file.policies, actor=actor, at=at)
    if rota_file.exposure is not None:
        save_exposure(session, team_id=team.id, spec=rota_file.exposure, actor=actor, at=at)
    return team


def export_rota_file(session: Session, team: Team) -> str:
    """The team's rota file: the rota, then its own policies (none when it uses the default)."""
    assert team.id is not None
    text = dump_rota_yaml(load_rota(session, team))
    policies = load_policies(session, team_id=team.id)
    if policies:
        text += yaml.safe_dump(
            {"policies": [policy_to_data(p) for p in policies]},
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
    exposure = load_exposure(session, team_id=team.id)
    if exposure != DEFAULT_EXPOSURE:
        text += yaml.safe_dump(
            {"exposure": exposure_to_data(exposure)}, sort_keys=False, allow_unicode=True
        )
    return text
