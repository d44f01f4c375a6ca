"""`/ts who [at TIME]`: who holds the pager, with times in the asker's zone."""

from __future__ import annotations

from typing import Self

from chatops.blockkit import Reply, context, header, section, user_text
from chatops.oncall.away import away_at
from chatops.oncall.now import pending_handoffs
from commands.command import Command, UtcDatetime
from commands.context import Context, UsageError
from commands.registry import verb
from commands.rota_view import local, mention, team_rota
from commands.timeparse import parse_when

USAGE = "/ts who [at <time>]"


@verb(
    "who",
    summary="Who is on call now (or at a given time), per rotation.",
    usage=USAGE,
    examples=("/ts who", "/ts who at tomorrow 09:00", "/ts who at 2027-03-14 02:30"),
    details="Times are read and shown in your own time zone.",
)
class Who(Command):
    """`at` None means now: the moment the reply is made, so it is worded "now"."""

    at: UtcDatetime | None = None

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Self:
        if args and args[0].lower() == "at":
            if len(args) == 1:
                raise UsageError("`at` needs a time, e.g. `tomorrow 09:00`", USAGE)
            args = args[1:]
        elif args and args[-1].rstrip("?") == "":
            args = args[:-1]  # `who's on call ?`
        if not args or [a.lower().rstrip("?") for a in args] in (["now"], ["right", "now"]):
            return cls()
        now = ctx.clock()
        try:
            at = parse_when(" ".join(args), ctx, now=now)
        except UsageError as error:
            raise UsageError(error.reason, USAGE) from None
        return cls(at=None if at == now else at)

    def run(self, ctx: Context) -> Reply:
        now = ctx.clock()
        at = now if self.at is None else self.at
        rota = team_rota(ctx)
        shifts = rota.on_call(at)
        when = "now" if at == now else local(ctx, at)
        with ctx.db.reading() as session:
            # An unaccepted handoff keeps its outgoing on call now; away is told at any time.
            waiting = pending_handoffs(session, team_id=ctx.team_id, at=now) if at == now else []
            away = away_at(session, ctx.team_id, at, {s.member for s in shifts})
        pending = {p.rotation: (p.incoming, p.outgoing) for p in waiting}
        if not shifts and not pending:
            text = (
                f":rotating_light: Nobody is on call {when}: pages go to the managers. "
                "Run `/ts rota check` to see the gap."
            )
            return Reply(text=text)
        names = {m.id: m.name for m in rota.spec.members}
        lines: list[str] = []
        plain: list[str] = []
        for s in shifts:
            gone = (
                f" _(said they are away until {local(ctx, away[s.member])})_"
                if s.member in away
                else ""
            )
            line = (
                f"*{user_text(s.rotation or 'team-wide cover')}* — {mention(s.member)} "
                f"until {local(ctx, s.end)}"
                + (" _(override)_" if s.source == "override" else "")
                + gone
            )
            said = user_text(f"{s.rotation or 'team-wide'}: {names.get(s.member, s.member)}")
            said += " (away)" if gone else ""
            held = pending.pop(s.rotation, None) if s.rotation else None
            if held is not None and held[0] == s.member:
                # One line per rotation: the outgoing stay on call (and are paged) with them.
                going = ", ".join(mention(m) for m in held[1])
                line += (
                    f"; handoff pending: {going} still on call with {mention(s.member)} "
                    "until accepted"
                )
                leaving = ", ".join(user_text(names.get(m, m)) for m in held[1])
                coming = user_text(names.get(s.member, s.member))
                rotation = user_text(s.rotation or "")
                said = f"{rotation}: {leaving} still on call with {coming} until accepted"
            elif held is not None:
                pending[s.rotation or ""] = held
            lines.append(line)
            plain.append(said)
        # An unaccepted handoff keeps its outgoing responders on call (they are still paged).
        for name, (incoming, outgoing) in pending.items():
            rotation = user_text(name)
            going = ", ".join(mention(m) for m in outgoing)
            lines.append(
                f"*{rotation}* — handoff pending: {going} still on call with {mention(incoming)} "
                "until accepted"
            )
            leaving = ", ".join(user_text(names.get(m, m)) for m in outgoing)
            coming = user_text(names.get(incoming, incoming))
            plain.append(f"{rotation}: {leaving} still on call with {coming} until accepted")
        return Reply(
            text=f"On call {when}: " + "; ".join(plain),
            blocks=[
                header(f"On call {when}"),
                section("\n".join(lines)),
                context(f"Times in {ctx.actor.tz if ctx.actor else 'UTC'}."),
            ],
        )
