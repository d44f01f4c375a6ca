"""What people type for a command, read as that command: `who's on call` is `who`.

A new user at 3 a.m. types a sentence, not our grammar. The phrases here are the ones people
were seen to type; each is replaced by the words it stands for before the verb is looked up,
and the rest of the line is kept as typed. A phrase is matched only at the start of the line,
whole words, in any case, with a typographic apostrophe read as a plain one and punctuation
after a word (`on call?`) ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

#: (the words typed, the command words they stand for); longer phrases first.
PHRASES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("who", "is", "on", "call"), ("who",)),
    (("who's", "on", "call"), ("who",)),
    (("whos", "on", "call"), ("who",)),
    (("who's",), ("who",)),
    (("on", "call"), ("who",)),
    (("oncall",), ("who",)),
    (("on-call",), ("who",)),
    (("open", "case"), ("case", "open")),
    (("new", "case"), ("case", "open")),
    (("close", "case"), ("case", "resolve")),
    (("my", "shifts"), ("shifts",)),
    (("my", "cases"), ("case", "list", "mine")),
    (("cases",), ("case", "list")),
    (("case", "close"), ("case", "resolve")),
    (("case", "new"), ("case", "open")),
    (("case", "view"), ("case", "show")),
)


def expand(words: Sequence[str]) -> list[str]:
    """`words` with a leading phrase replaced by the command words it stands for."""
    folded = [w.lower().replace("\u2019", "'").rstrip("?!.,") for w in words]
    for typed, meant in PHRASES:
        if tuple(folded[: len(typed)]) == typed:
            return [*meant, *words[len(typed) :]]
    if words and folded[0] != words[0].lower():  # `who?`, `help!`: no verb holds punctuation
        return [folded[0], *words[1:]]
    return list(words)
