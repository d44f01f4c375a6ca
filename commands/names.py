"""Finding a member by the name someone typed: the one matcher for `/ts`, the console and CLI.

People name each other as they speak: `@Sofía Martínez`, `@sofia martinez`, `sofia`, a Slack
mention `<@U…|name>` or `<@U…>`, a raw Slack id. Names are compared without case or accents
(`sofia` is Sofía), so whoever types on a keyboard without them is understood. Pure: it works
on any sequence of members that have a `slack_id` and a `name`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from chatops.blockkit import quote_input, user_text

#: Words that stand for the asker: `me` is never a name (and never the beginning of one).
ME = frozenset({"me", "myself"})
#: The fewest letters a name's beginning must have to name someone by it.
MIN_BEGINNING = 3
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_TRAILING = ",;:.!?"


class Named(Protocol):
    @property
    def slack_id(self) -> str: ...

    @property
    def name(self) -> str: ...


M = TypeVar("M", bound=Named)


@dataclass(frozen=True)
class Person:
    """A member as the matcher needs them, for sources (like the rota file) keyed otherwise."""

    slack_id: str
    name: str


class NameNotFound(LookupError):
    """Nobody, or more than one member, answers to a name; `str()` is the one line to show.

    `hint` is its helpful part alone (` (did you mean …?)`, ` (could be …)`), for a caller that
    words the failure its own way, like the CLI's `--member`.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class UnknownName(NameNotFound):
    pass


class AmbiguousName(NameNotFound):
    def __init__(self, typed: str, candidates: Sequence[Named]) -> None:
        listing = _listing(candidates)
        super().__init__(
            f"`{quote_input(typed)}` could be {listing}; say which", f" (could be {listing})"
        )
        self.candidates = tuple(candidates)


def fold(text: str) -> str:
    """`text` compared loosely: without accents (NFKD, combining marks dropped), case,
    repeated spaces or curly apostrophes, so `Sofía  MARTÍNEZ` is `sofia martinez` and
    `O’Brien` is `o'brien`."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def mentioned_id(text: str) -> str | None:
    """The Slack user id in a mention `<@U…|name>` or `<@U…>`, else None."""
    found = _MENTION.match(text.strip())
    return found.group(1) if found else None


def match(query: str, members: Sequence[M], *, team: str = "the team") -> M:
    """The one member `query` names, or `UnknownName` / `AmbiguousName` saying why not.

    Tried in order, the first kind that anyone answers to wins: a mention's id, the full name,
    a Slack id, the first name, any other word of the name, then a unique beginning of the name.
    """
    slack_id = mentioned_id(query)
    if slack_id is not None:
        found = [m for m in members if m.slack_id == slack_id]
        if found:
            return found[0]
        raise UnknownName(f"<@{slack_id}> is not a member of {user_text(team)}")
    typed = query.strip().removeprefix("@")
    wanted = fold(typed)
    if not wanted:
        raise UnknownName("name a member, e.g. @name")
    if wanted in ME:
        raise UnknownName(f"`{quote_input(typed)}` is not a name here: name the member, e.g. @name")
    for kind in _KINDS:
        found = [m for m in members if kind(wanted, m)]
        if len(found) == 1:
            return found[0]
        if found:
            raise AmbiguousName(query, found)
    hint = _close(wanted, members)
    raise UnknownName(f"nobody on {user_text(team)} is called `{quote_input(typed)}`{hint}", hint)


def match_words(
    words: Sequence[str], members: Sequence[M], *, team: str = "the team", me: str | None = None
) -> tuple[M, int]:
    """The member named by the first of `words`, and how many words the name took.

    The longest run of words that is someone's full name wins (`@Sofía Martínez speaks …`);
    else the first word alone names them, a trailing comma or colon allowed (`@amira, she …`).
    `me` (or `myself`) is the member whose Slack id is `me`, when the caller knows who asks.
    """
    if not words:
        raise UnknownName("name a member, e.g. @name")
    if me is not None and fold(words[0].removeprefix("@").rstrip(_TRAILING)) in ME:
        found = [m for m in members if m.slack_id == me]
        if found:
            return found[0], 1
    longest = max((len(m.name.split()) for m in members), default=1)
    for count in range(min(longest, len(words)), 1, -1):
        wanted = fold(" ".join(words[:count]).removeprefix("@"))
        found = [m for m in members if fold(m.name) == wanted]
        if len(found) == 1:
            return found[0], count
        if found:
            raise AmbiguousName(" ".join(words[:count]), found)
    try:
        return match(words[0], members, team=team), 1
    except UnknownName:
        bare = words[0].rstrip(_TRAILING)
        if not bare or bare == words[0]:
            raise
        return match(bare, members, team=team), 1


def _full(wanted: str, m: Named) -> bool:
    return fold(m.name) == wanted


def _slack_id(wanted: str, m: Named) -> bool:
    return m.slack_id.casefold() == wanted


def _first(wanted: str, m: Named) -> bool:
    return fold(m.name).split(" ")[0] == wanted


def _any_word(wanted: str, m: Named) -> bool:
    return wanted in fold(m.name).split(" ")


def _beginning(wanted: str, m: Named) -> bool:
    # Three letters at least: `me` must not be Mei, nor `al` anyone called Alex.
    return len(wanted) >= MIN_BEGINNING and fold(m.name).startswith(wanted)


_KINDS: tuple[Callable[[str, Named], bool], ...] = (_full, _slack_id, _first, _any_word, _beginning)


def _listing(found: Sequence[Named]) -> str:
    """`A, B or C`; Slack ids added when two of them share the very same name."""
    names = [m.name for m in found]
    shown = [
        user_text(f"{m.name} ({m.slack_id})" if names.count(m.name) > 1 else m.name) for m in found
    ]
    return ", ".join(shown[:-1]) + f" or {shown[-1]}"


def _close(wanted: str, members: Sequence[Named]) -> str:
    """` (did you mean Sofía Martínez?)` when a full or first name is close to `wanted`."""
    by_key: dict[str, str] = {}
    for m in members:
        by_key.setdefault(fold(m.name), m.name)
        by_key.setdefault(fold(m.name).split(" ")[0], m.name)
    close = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=0.6)
    return f" (did you mean {user_text(by_key[close[0]])}?)" if close else ""
