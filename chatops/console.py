"""The local console: type the same `/ts …` lines as in Slack and read the replies here.

It runs the very same command handlers as the Slack adapter (`commands.registry.dispatch`); only
the rendering differs. It reads a script from standard input too, so it can be piped and tested.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlmodel import Session

from chatops.blockkit import Block, Reply, unescape
from chatops.clock import ManualClock, parse_duration
from chatops.db import Database
from chatops.team import actor_from_member, team_members
from commands.context import Context
from commands.names import NameNotFound, match
from commands.registry import dispatch, dispatch_action
from rota.models import Member, Team
from rota.timefmt import fmt_local

#: Most worker instants one `:advance` steps through before jumping to its end.
MAX_STEPS = 10_000
#: The longest one `:advance` goes: every timer on the way runs, which takes real seconds.
MAX_ADVANCE = timedelta(weeks=4)

CONSOLE_HELP = """console commands:
  /ts …            run a command as in Slack (the leading /ts is optional)
  :press N         press button N of the last reply (or just type N)
  :advance 1h45m   move the clock (s, m, h, d, w), firing each due timer at its own time
  :as NAME         act as another member of the team
  :now             show the console's clock
  :help            this list
  :quit            leave (so does end of input)"""

_BOLD = re.compile(r"\*(\S(?:[^*\n]*\S)?)\*")
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")


@dataclass
class Console:
    db: Database
    team: Team
    context: Context
    clock: ManualClock
    out: TextIO = sys.stdout
    on_advance: list[Callable[[], list[Reply]]] = field(default_factory=list)
    #: The next instant after `now` at which the worker has something to do (None: nothing).
    wakeup: Callable[[datetime], datetime | None] | None = None
    names: dict[str, str] = field(default_factory=dict)
    #: Where a reply's files (charts) are written; a fresh temporary folder by default.
    files_dir: Path | None = None
    _buttons: list[tuple[str, str]] = field(default_factory=list)

    def run(self, lines: TextIO, *, interactive: bool) -> int:
        """Read lines until `:quit` or end of input; returns the exit code."""
        while True:
            if interactive:
                self.out.write(f"{self.context.actor.name if self.context.actor else '?'}> ")
                self.out.flush()
            line = lines.readline()
            if not line:
                return 0
            if self.handle(line.strip()) is False:
                return 0

    def handle(self, line: str) -> bool:
        """Run one line; False means the console should stop."""
        if not line or line.startswith("#"):
            return True
        if line in {":quit", ":q", ":exit"}:
            return False
        if line.isdigit():
            line = f":press {line}"
        if line.startswith(":"):
            self._console_command(line)
            return True
        text = re.sub(r"^/?ts\b\s*", "", line)
        self.show(dispatch(text, replace(self.context, clock=self.clock)))
        self._run_worker(header=False)
        return True

    def _console_command(self, line: str) -> None:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if name == "help":
            self.print(CONSOLE_HELP)
        elif name == "now":
            self.print(self.clock().isoformat(timespec="seconds").replace("+00:00", "Z"))
        elif name == "advance":
            self._advance(arg)
        elif name == "as":
            self._switch(arg)
        elif name == "press":
            self._press(arg)
        else:
            self.print(f"unknown console command :{name}; type :help")

    def _advance(self, arg: str) -> None:
        """Step the clock through every instant the worker has work at, in order, so each
        reminder, handoff and page is sent (and printed) at its own time; then to the end."""
        try:
            delta = parse_duration(arg)
        except ValueError as error:
            self.print(f"{error}. Usage: :advance 15m or :advance 1h45m")
            return
        if delta > MAX_ADVANCE:
            self.print("advance at most 4w at a time. Usage: :advance 15m or :advance 1h45m")
            return
        target = self.clock() + delta
        for _ in range(MAX_STEPS):
            due = self.wakeup(self.clock()) if self.wakeup is not None else None
            if due is None or due > target or due <= self.clock():
                break  # (a row still due now was not done by the last run: go to the end)
            self.clock.advance_to(due)
            self._run_worker(header=True)
        self.clock.advance_to(target)
        self._run_worker(header=True)
        now = self.clock()
        self.print(f"(clock now {now.isoformat(timespec='seconds').replace('+00:00', 'Z')})")

    def _run_worker(self, *, header: bool) -> None:
        """One worker run at the console's current time; what it sent is printed, under the
        time it was sent at when the clock is moving."""
        sent = [reply for tick in self.on_advance for reply in tick()]
        if not sent:
            return
        if header:
            tz = self.context.actor.tz if self.context.actor else "UTC"
            self.print(f"-- {fmt_local(self.clock(), tz)} --")
        for reply in sent:
            self.show(reply)

    def _switch(self, who: str) -> None:
        with self.db.transaction() as session:
            names = ", ".join(m.name for m in team_members(session, self.team))
            try:
                member = find_member(session, self.team, who)
            except NameNotFound as error:
                self.print(f"{unescape(str(error))}; members: {names}")
                return
        self.context = replace(self.context, actor=actor_from_member(member))
        self.print(f"(now acting as {member.name}, {member.role}, {member.tz})")

    def _press(self, arg: str) -> None:
        if not arg.isdigit() or not 1 <= int(arg) <= len(self._buttons):
            self.print(f"no button {arg!r}; the last reply has {len(self._buttons)}")
            return
        action_id, value = self._buttons[int(arg) - 1]
        self.show(dispatch_action(action_id, value, replace(self.context, clock=self.clock)))
        self._run_worker(header=False)

    def print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, reply: Reply) -> None:
        """Render a reply's blocks as text; buttons become numbered choices."""
        self._buttons = []
        self.print(self.render(reply.blocks))
        for post in reply.posts:
            self.print(f"[#{(self.team.channel or 'team').lstrip('#')}]")
            self.print(self.render(post.blocks, indent="  ", keep_buttons=True))
        for path in self.save_files(reply):
            self.print(f"[file] {path}")
        self.print("")

    def save_files(self, reply: Reply) -> list[Path]:
        """Write a reply's files where the console keeps them (Slack uploads them to a DM)."""
        if not reply.files:
            return []
        if self.files_dir is None:
            self.files_dir = Path(tempfile.mkdtemp(prefix="chatops-files-"))
        paths = []
        for item in reply.files:
            path = self.files_dir / Path(item.filename).name
            path.write_bytes(item.data)
            paths.append(path)
        return paths

    def render(self, blocks: list[Block], *, indent: str = "", keep_buttons: bool = False) -> str:
        lines: list[str] = []
        for block in blocks:
            kind = block.get("type")
            if kind == "header":
                lines.append(f"== {block['text']['text']} ==")
            elif kind == "section":
                if "text" in block:
                    lines.append(self._plain(block["text"]["text"]))
                for f in block.get("fields", []):
                    label, _, value = self._plain(f["text"]).partition("\n")
                    lines.append(f"{label}: {value.replace(chr(10), '; ')}")
            elif kind == "context":
                lines.append(
                    "  " + " ".join(self._plain(e.get("text", "")) for e in block["elements"])
                )
            elif kind == "divider":
                lines.append("-" * 40)
            elif kind == "actions":
                lines.append("  ".join(self._button(e) for e in block["elements"]))
        return "\n".join(indent + line for text in lines for line in text.splitlines() or [""])

    def _button(self, element: dict[str, Any]) -> str:
        self._buttons.append((element["action_id"], element.get("value", "")))
        return f"[{len(self._buttons)}] {element['text']['text']}"

    def _plain(self, text: str) -> str:
        text = _BOLD.sub(r"\1", text)
        text = _MENTION.sub(
            lambda m: "@" + (m.group(2) or self.names.get(m.group(1), m.group(1))), text
        )
        # Slack shows its three escapes as the characters; so does the console.
        return unescape(text)


def find_member(session: Session, team: Team, who: str) -> Member:
    """The member `who` names, read as `/ts` reads names (`sofia`, `@Sofía Martínez`, an id);
    `NameNotFound` says in one line why nobody, or not just one, matched."""
    return match(who, team_members(session, team), team=team.name)
