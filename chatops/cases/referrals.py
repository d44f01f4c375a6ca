"""The referral log: what a case's details were disclosed to which agency, where, and why.

Disclosing user data to police or a child-protection agency must be accountable: each referral
names the agency, its country (ISO 3166-1 alpha-2) and the basis (an emergency, a voluntary
report, or a legal demand). A referral is restricted like its case: only those with access may
record or read it. Its note is typed text and stays in this table, never in the audit trail.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel, col, select

from chatops.blockkit import quote_input
from chatops.errors import Refused
from rota.models import utc_column


class AgencyKind(StrEnum):
    """What kind of body received the disclosure, as a transparency report groups them."""

    law_enforcement = "law-enforcement"  # police, prosecutors, national investigators
    hotline = "hotline"  # a child-protection clearinghouse or reporting hotline
    regulator = "regulator"  # a data-protection or online-safety authority
    other = "other"


#: Agencies whose kind is known, so it need not be typed (casefolded names).
KNOWN_AGENCIES: dict[str, AgencyKind] = {
    "ncmec": AgencyKind.hotline,
    "cybertipline": AgencyKind.hotline,
    "iwf": AgencyKind.hotline,
    "inhope": AgencyKind.hotline,
    "fbi": AgencyKind.law_enforcement,
    "europol": AgencyKind.law_enforcement,
    "interpol": AgencyKind.law_enforcement,
    "police": AgencyKind.law_enforcement,
    "polizei": AgencyKind.law_enforcement,
    "ofcom": AgencyKind.regulator,
    "federal bureau of investigation": AgencyKind.law_enforcement,
    "national center for missing and exploited children": AgencyKind.hotline,
    "internet watch foundation": AgencyKind.hotline,
    "esafety": AgencyKind.regulator,
}


class Basis(StrEnum):
    emergency = "emergency"  # danger to life: disclosed without a legal demand
    voluntary = "voluntary"  # a report made on our own initiative (e.g. to a hotline)
    legal = "legal"  # compelled: a subpoena, court order or other legal process


#: ISO 3166-1 alpha-2 officially assigned codes (249), kept here so no lookup leaves the host.
_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRIES = frozenset(_CODES.split())
#: An agency's name as typed: words, digits, spaces and a few separators (no markup).
AGENCY = re.compile(r"^[\w][\w .,'()/-]{0,63}$")


class Referral(SQLModel, table=True):
    __tablename__ = "case_referral"

    id: int | None = Field(default=None, primary_key=True)
    # Empty once the case is purged: the referral still counts in transparency reports.
    case_id: int | None = Field(default=None, foreign_key="ts_case.id", index=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    at: datetime = utc_column(nullable=False)
    by: str  # Slack user id
    agency: str
    country: str  # ISO 3166-1 alpha-2, upper case
    basis: str
    kind: str = AgencyKind.other.value
    note: str = ""  # restricted with its case


def parse_basis(text: str) -> Basis:
    try:
        return Basis(text.lower())
    except ValueError:
        valid = ", ".join(b.value for b in Basis)
        raise Refused(f"unknown basis '{quote_input(text)}'; valid: {valid}") from None


def parse_kind(text: str | None, agency: str, earlier: AgencyKind | None = None) -> AgencyKind:
    """The kind typed (`kind:`), else the agency's known kind or the kind it was recorded as
    before (`earlier`), else a one-line refusal.

    A kind contradicting a well-known agency (`NCMEC`, `the FBI`) or the team's own earlier
    record is refused: one agency counted under two kinds would split its line in the
    transparency report. A known word inside a longer name (`Police Ombudsman`) decides
    nothing: an oversight body of the police is not the police, so its kind is asked for.
    """
    exact = known_kind(agency)
    settled = exact or earlier
    if text:
        try:
            typed = AgencyKind(text.lower())
        except ValueError:
            valid = ", ".join(k.value for k in AgencyKind)
            raise Refused(f"unknown agency kind '{quote_input(text)}'; valid: {valid}") from None
        if settled is not None and typed != settled:
            counted = "counts as" if exact is not None else "was recorded as"
            raise Refused(
                f"{quote_input(agency)} {counted} {settled.value}, not {typed.value}: "
                "leave out kind:"
            )
        return typed
    if settled is None:
        valid = "|".join(k.value for k in AgencyKind)
        raise Refused(f"say what kind of agency '{quote_input(agency)}' is: kind:{valid}")
    return settled


def agency_key(agency: str) -> str:
    """An agency's name as compared: width, case, dots (`F.B.I.`), other punctuation
    (`Acme-Hotline.`) and a leading "the" do not matter."""
    folded = unicodedata.normalize("NFKC", agency).casefold()
    folded = re.sub(r"['’]s\b", "", folded)  # NCMEC's CyberTipline
    folded = re.sub(r"[.'’]", "", folded)
    words = re.sub(r"[^\w]+", " ", folded).split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


def known_kind(agency: str) -> AgencyKind | None:
    """The kind of a well-known agency when `agency` is one (`NCMEC`, `the FBI`, `F.B.I.`) or
    is made only of such names that agree (`NCMEC CyberTipline`, `NCMEC's CyberTipline`)."""
    key = agency_key(agency)
    if key in KNOWN_AGENCIES:
        return KNOWN_AGENCIES[key]
    words = key.split()
    if not words or not all(w in KNOWN_AGENCIES for w in words):
        return None
    kinds = {KNOWN_AGENCIES[w] for w in words}
    return kinds.pop() if len(kinds) == 1 else None


def earlier_kind(
    session: Session, *, team_id: int, agency: str, visible: Callable[[int], bool]
) -> AgencyKind | None:
    """The kind this team last recorded `agency` under (compared by `agency_key`), among the
    referrals of cases `visible` says the asker may see: a refusal quoting a restricted case's
    record would tell of a referral they may not know of."""
    key = agency_key(agency)
    rows = session.exec(
        select(Referral.agency, Referral.kind, Referral.case_id)
        .where(Referral.team_id == team_id)
        .order_by(col(Referral.id).desc())
    ).all()
    for name, kind, case_id in rows:
        if agency_key(name) == key and case_id is not None and visible(case_id):
            return AgencyKind(kind) if kind in {k.value for k in AgencyKind} else None
    return None


#: Codes people type for a country whose ISO code differs.
_HINTS = {"UK": "GB", "EL": "GR"}


def parse_country(text: str) -> str:
    code = text.upper()
    if code not in COUNTRIES:
        hint = f" (for that country, use {_HINTS[code]})" if code in _HINTS else ""
        raise Refused(
            f"'{quote_input(text)}' is not an ISO 3166-1 alpha-2 country code like US, DE or "
            f"BR{hint}"
        )
    return code


def parse_agency(text: str) -> str:
    if not AGENCY.match(text):
        raise Refused(f"'{quote_input(text)}' is not an agency name like NCMEC or FBI")
    return text


def referrals_of(session: Session, case_id: int) -> list[Referral]:
    return list(
        session.exec(select(Referral).where(Referral.case_id == case_id).order_by(col(Referral.id)))
    )


@dataclass(frozen=True)
class ReferralCounts:
    """Referrals made in [start, end): how many in all, by basis, by agency kind, by agency
    (names counted without regard to case, under their first spelling), by country."""

    total: int
    by_basis: dict[str, int]
    by_kind: dict[str, int]
    by_agency: dict[str, int]
    by_country: dict[str, int]


def count_referrals(
    session: Session, *, start: datetime, end: datetime, team_id: int | None = None
) -> ReferralCounts:
    query = select(Referral).where(col(Referral.at) >= start, col(Referral.at) < end)
    if team_id is not None:
        query = query.where(Referral.team_id == team_id)
    rows = list(session.exec(query))

    def tally(values: list[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    spelling: dict[str, str] = {}  # one line per agency, under its first spelling
    for r in sorted(rows, key=lambda r: (r.at, r.id or 0)):
        spelling.setdefault(agency_key(r.agency), r.agency)
    return ReferralCounts(
        total=len(rows),
        by_basis=tally([r.basis for r in rows]),
        by_kind=tally([r.kind for r in rows]),
        by_agency=tally([spelling[agency_key(r.agency)] for r in rows]),
        by_country=tally([r.country for r in rows]),
    )
