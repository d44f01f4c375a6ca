"""The words a case and an escalation policy share: case types and severities.

They sit below both `chatops.cases` and `chatops.escalation`, because a policy is chosen by a
case's type and severity while a case is paged by its policy (docs/architecture.md, "Layers").
"""

from __future__ import annotations

from enum import StrEnum


class CaseType(StrEnum):
    threat_of_violence = "threat-of-violence"
    self_harm = "self-harm"
    terrorism = "terrorism"
    child_safety = "child-safety"
    harassment = "harassment"
    event_safety = "event-safety"
    other = "other"


class Severity(StrEnum):
    sev1 = "sev1"
    sev2 = "sev2"
    sev3 = "sev3"
    sev4 = "sev4"


SEVERITY_MEANING: dict[Severity, str] = {
    Severity.sev1: "imminent risk to life or of serious physical harm: page now, around the clock",
    Severity.sev2: "credible threat or serious harm likely within hours",
    Severity.sev3: "harm possible; needs a responder within a day",
    Severity.sev4: "routine: no time pressure, next working day",
}

#: Types whose cases are restricted unless the reporter says otherwise.
RESTRICTED_BY_DEFAULT = frozenset({CaseType.child_safety, CaseType.self_harm})


def group_problems(group_names: list[str]) -> list[str]:
    """Path-named problems of a rota file's ``groups:``: each group is named after a case type
    (its members review that type's restricted cases), so any other name is a typo."""
    valid = ", ".join(t.value for t in CaseType)
    known = {t.value for t in CaseType}
    return [
        f"groups.{name}: unknown case type '{name}'; valid types: {valid}"
        for name in group_names
        if name not in known
    ]
