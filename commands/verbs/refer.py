"""`/ts refer TS-… to <agency> country:<cc> basis:<emergency|voluntary|legal> [note…]`.

Parsing and rendering only; the rules (access, audit, valid codes) are in
`chatops.cases.reporting.refer`, so every transport gets the same answers.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field

from chatops.blockkit import Reply, user_text
from chatops.cases import reporting
from chatops.cases.referrals import AgencyKind, Basis
from commands.command import Command, FreeText
from commands.context import Context, UsageError
from commands.parsing import raw, verbatim
from commands.registry import verb
from commands.verbs.case import CaseKey, case_word, known_key

USAGE = (
    "/ts refer TS-YYYY-NNNN to <agency> country:<cc> basis:<emergency|voluntary|legal> "
    "[kind:<law-enforcement|hotline|regulator|other>] [note…]"
)
OPTIONS = ("country", "basis", "kind")
REQUIRED = ("country", "basis")


@verb(
    "refer",
    summary="Log what a case's details were disclosed to which agency, where, and why.",
    usage=USAGE,
    examples=(
        "/ts refer TS-2027-0042 to NCMEC country:US basis:voluntary CyberTipline upload",
        "/ts refer TS-2027-0042 to Polizei Berlin country:DE basis:emergency kind:law-enforcement",
    ),
    details="Bases: " + ", ".join(b.value for b in Basis) + ". Country: ISO 3166-1 alpha-2 "
    "(US, DE, BR). Kind: " + ", ".join(k.value for k in AgencyKind) + " (known agencies such "
    "as NCMEC or the FBI need none). Only those with access to the case may refer it or see "
    "its referrals.",
)
class Refer(Command):
    key: CaseKey
    agency: str
    country: str
    basis: str
    kind: str | None = None
    note: FreeText = Field(default="", repr=False)  # restricted with its case

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        word = case_word(args, USAGE)
        if len(args) < 2 or args[1].lower() != "to":
            raise UsageError("say `to <agency>` after the case id", USAGE)
        rest = args[2:]
        first = next((i for i, w in enumerate(rest) if _option(w) is not None), len(rest))
        if first == 0:
            raise UsageError("name the agency after `to`", USAGE)
        values: dict[str, str] = {}
        end = first
        while end < len(rest) and (found := _option(rest[end])) is not None:
            if found[0] in values:
                raise UsageError(f"`{found[0]}:` is given twice", USAGE)
            values[found[0]] = found[1]
            end += 1
        missing = [o for o in REQUIRED if not values.get(o)]
        if missing:
            raise UsageError(f"give {' and '.join(f'{m}:' for m in missing)}", USAGE)
        return cls(
            key=known_key(word),
            agency=" ".join(raw(w) for w in rest[:first]),
            country=values["country"],
            basis=values["basis"],
            kind=values.get("kind") or None,
            note=verbatim(rest[end:]),
        )

    def run(self, ctx: Context) -> Reply:
        with ctx.db.transaction() as session:
            referral = reporting.refer(
                session,
                team_id=ctx.team_id,
                actor=ctx.actor,
                key=self.key,
                at=ctx.clock(),
                agency=self.agency,
                country=self.country,
                basis=self.basis,
                kind=self.kind,
                note=self.note,
            )
        return Reply(
            text=f":outbox_tray: {self.key.upper()}: referral to {user_text(referral.agency)} "
            f"({referral.kind}, {referral.country}, {referral.basis}) recorded."
        )


def _option(word: str) -> tuple[str, str] | None:
    key, sep, value = raw(word).partition(":")
    return (key.lower(), value) if sep and key.lower() in OPTIONS else None
