"""What handoff messages say, rendered when they are queued.

The channel post carries restricted cases by id, type and severity only (docs/architecture.md,
invariant 6); notes are
the responders' own words, posted as they wrote them but escaped and defanged (`user_text`), so a
note can neither ping the channel nor hide a link. Every
instant is shown in the reader's local zone with its offset, never computed there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chatops.blockkit import Block, actions, button, context, header, mention, section, user_text
from chatops.cases.models import Case
from chatops.escalation.messages import headline
from rota.timefmt import fmt_local, fmt_utc_words

ACCEPT_ACTION = "handoff.accept"
#: Cases listed in a handoff message; the rest are counted and pointed to `/ts case list`.
MAX_CASES = 25
#: Notes shown in full; long ones are cut so the message stays within Slack's limits.
NOTE_LIMIT = 600


@dataclass(frozen=True)
class Person:
    slack_id: str
    tz: str

    @property
    def mention(self) -> str:
        return mention(self.slack_id)

    def local(self, at: datetime) -> str:
        return fmt_local(at, self.tz)


def case_line(case: Case) -> str:
    """One open case; a restricted one by id, type and severity only."""
    title = headline(case.key, case.type, case.severity)
    if case.restricted:
        return f"• {title} _(restricted)_"
    who = f", assignee {mention(case.assignee)}" if case.assignee else ""
    return f"• {title} — {case.status}{who}: {user_text(case.summary, 200)}"


def _accept_button(handoff_id: int) -> Block:
    return actions(button("Accept handoff", ACCEPT_ACTION, str(handoff_id), style="primary"))


def handoff_post(
    *,
    handoff_id: int,
    rotation: str,
    at: datetime,
    incoming: Person,
    outgoing: Sequence[tuple[Person, datetime]],
    cases: Sequence[Case],
    notes: Sequence[tuple[str, str]],
    next_handoff: tuple[str, datetime] | None,
    accepted: bool,
    late: bool,
) -> tuple[str, list[Block]]:
    """The handoff message in the team channel."""
    title = f"Handoff · {user_text(rotation)} · {fmt_utc_words(at)}"
    coming = f"*Coming on:* {incoming.mention} at {incoming.local(at)}"
    if outgoing:
        going = "\n".join(
            f"*Going off:* {p.mention} at {p.local(off)}"
            + (f" (stays until then; handoff {p.local(at)})" if off > at else "")
            for p, off in outgoing
        )
    else:
        going = "*Going off:* nobody was on call in this layer just before"
    lines = [going, coming]
    if late:
        lines.append("_Posted late: the bot could not post it on time._")
    shown = [case_line(c) for c in cases[:MAX_CASES]]
    if len(cases) > MAX_CASES:
        shown.append(f"… and {len(cases) - MAX_CASES} more: `/ts case list`")
    case_text = "\n".join(shown) if shown else "none"
    note_text = (
        "\n".join(f"{mention(author)}: {user_text(text, NOTE_LIMIT)}" for author, text in notes)
        if notes
        else "none"
    )
    blocks: list[Block] = [
        header(title),
        section("\n".join(lines)),
        section(f"*Open cases ({len(cases)}):*\n{case_text}"),
        section(f"*Notes:*\n{note_text}"),
    ]
    if next_handoff is not None:
        rot, when = next_handoff
        mine = incoming.local(when)
        blocks.append(
            context(f"Next handoff: {user_text(rot)} at {fmt_utc_words(when)} ({mine} for you)")
        )
    if accepted:
        blocks.append(context(f":white_check_mark: {incoming.mention} has already accepted."))
    else:
        blocks.append(
            context(
                f"{incoming.mention}: accept with the button or `/ts handoff accept`. "
                "Until then the outgoing responder stays on call too."
            )
        )
        blocks.append(_accept_button(handoff_id))
    plain = (
        f":arrows_counterclockwise: {title}{' (posted late)' if late else ''}\n{going}\n{coming}\n"
        f"Open cases: {len(cases)}; notes: {len(notes)}"
    )
    return plain, blocks


def reminder_dm(
    *,
    handoff_id: int,
    rotation: str,
    at: datetime,
    incoming: Person,
    outgoing: Sequence[Person],
    open_cases: int,
) -> tuple[str, list[Block]]:
    """The DM to the incoming responder before the boundary."""
    who = ", ".join(p.mention for p in outgoing) or "nobody"
    text = (
        f":alarm_clock: You take over *{user_text(rotation)}* at {incoming.local(at)} from {who}. "
        f"{open_cases} open case(s)."
    )
    blocks = [
        section(text),
        context("Accept with the button or `/ts handoff accept` when you are ready."),
        _accept_button(handoff_id),
    ]
    return text, blocks


def escalation_dm(
    *,
    rotation: str,
    at: datetime,
    incoming: Person,
    reader: Person,
    outgoing: Sequence[Person],
    as_outgoing: bool,
    minutes: int,
) -> tuple[str, list[Block]]:
    """The page when nobody accepted: to the outgoing responder, or to a manager."""
    when = reader.local(at)
    rotation = user_text(rotation)
    if as_outgoing:
        text = (
            f":rotating_light: {incoming.mention} has not accepted the *{rotation}* handoff of "
            f"{when} within {minutes} min. You stay on call until they do."
        )
    else:
        who = ", ".join(p.mention for p in outgoing) or "nobody"
        text = (
            f":rotating_light: Handoff not accepted: *{rotation}* at {when}, "
            f"{incoming.mention} coming on, {minutes} min without acceptance. "
            f"Still on call: {who}."
        )
    return text, [section(text)]
