"""Reading a `/ts` line: words that remember where they were typed, options, and free text.

A line has a structured head (verb, case id, `to @x`, times, `key:value` options) and usually
ends in the user's own words: a summary, a note, a reason. Those are evidence, so they are never
re-joined from words: a verb takes them from the original line (`verbatim`), with every quote,
apostrophe, emoji and space as typed. Quotes only group words where a value needs them: a word
that starts with a quote (`"0 9 * * mon"`) or an option's value (`details:"…"`). Anywhere else a
quote is just a character, so `user's` and `“I'll find you”` need no escaping.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from commands.context import UsageError
from commands.names import mentioned_id

QUOTES: dict[str, str] = {
    '"': '"“”',
    "“": '”“"',
    "”": '”"',
    "„": '“”"',
    "'": "'’",
    "‘": "’'",
}
"""Each opening quote and the quotes that close it: phones type “…” and ‘…’, keyboards "…"."""


class Token(str):
    """A word of the line (its quotes removed) that knows its span `start:end` in `source`."""

    source: str
    start: int
    end: int
    unclosed: bool

    def __new__(
        cls, value: str, source: str, start: int, end: int, *, unclosed: bool = False
    ) -> Token:
        token = super().__new__(cls, value)
        token.source, token.start, token.end, token.unclosed = source, start, end, unclosed
        return token

    @property
    def raw(self) -> str:
        """The word exactly as typed, quotes included."""
        return self.source[self.start : self.end]


def tokenize(text: str) -> list[Token]:
    """The words of `text`, split at whitespace; quoted values and Slack's `<…>` stay whole.

    Never fails: an opening quote that is not closed is an ordinary character (and the word
    says so in `unclosed`, for an option value that wanted quoting).
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        tokens.append(_word(text, i))
        i = tokens[-1].end
    return tokens


def _word(text: str, start: int) -> Token:
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    plain = Token(text[start:end], text, start, end)
    if text[start] == "<":
        close = text.find(">", start)
        if close != -1 and "\n" not in text[start:close]:
            return Token(text[start : close + 1], text, start, close + 1)
        return plain
    key, sep, _ = text[start:end].partition(":")
    at = start + len(key) + 1 if sep and key.isalpha() else start
    if at >= len(text) or text[at] not in QUOTES:
        return plain
    closing = _closing(text, at)
    if closing is None:
        return Token(text[start:end], text, start, end, unclosed=True)
    return Token(text[start:at] + text[at + 1 : closing], text, start, closing + 1)


def _closing(text: str, opening: int) -> int | None:
    """Where the quote opened at `opening` closes: a closing quote that ends a word."""
    closers = QUOTES[text[opening]]
    for i in range(opening + 1, len(text)):
        if text[i] in closers and (i + 1 == len(text) or text[i + 1].isspace()):
            return i
    return None


def raw(word: str) -> str:
    """`word` as typed: a `Token`'s source text, or the word itself when built by hand."""
    return word.raw if isinstance(word, Token) else word


def verbatim(words: Sequence[str]) -> str:
    """The original text from the first of `words` to the last, exactly as typed.

    Words built by hand (a test, a button) have no source: they are joined with spaces.
    """
    if not words:
        return ""
    first, last = words[0], words[-1]
    if isinstance(first, Token) and isinstance(last, Token) and first.source is last.source:
        return first.source[first.start : last.end]
    return " ".join(raw(w) for w in words)


def mention_id(token: str) -> str | None:
    """The Slack user id in `<@U123|name>`, or None when the token is not a mention."""
    return mentioned_id(token)


@dataclass(frozen=True)
class Options:
    """A line's tail read as `key:value` options, flag words and the free text between them."""

    values: dict[str, str]
    flags: frozenset[str]
    text: str


def read_options(words: Sequence[str], known: Iterable[str], flags: Iterable[str] = ()) -> Options:
    """Options and flags before or after the free text; the text between them verbatim.

    Only the edges are read as options, so the user's own words are never taken apart: `lang:`
    inside a quoted threat stays part of it. A near miss of an option at an edge is refused as
    the typo it is (`lagn:ar`), and so is an option with a quoted value inside the text (it was
    meant as an option, but options go around the text).
    """
    keys, names = frozenset(known), frozenset(flags)
    first, last = 0, len(words)
    while first < last and _is_option(words[first], keys, names):
        first += 1
    while last > first and _is_option(words[last - 1], keys, names):
        last -= 1
    values: dict[str, str] = {}
    found: set[str] = set()
    for word in [*words[:first], *words[last:]]:
        option = _option(word, keys)
        if option is None:
            found.add(raw(word).lower())
        elif option[0] in values:
            raise UsageError(f"`{option[0]}:` is given twice; give it once")
        elif not option[1]:
            raise UsageError(f"`{option[0]}:` needs a value after the colon")
        else:
            values[option[0]] = option[1]
    for word in words[first:last]:
        key, _, value = raw(word).partition(":")
        if value[:1] in QUOTES and _option(word, keys) is not None:
            raise UsageError(f"put `{key}:` before or after the text, not inside it")
    return Options(values=values, flags=frozenset(found), text=verbatim(words[first:last]))


def _is_option(word: str, keys: frozenset[str], flags: frozenset[str]) -> bool:
    if raw(word).lower() in flags or _option(word, keys) is not None:
        return True
    refuse_near_option(raw(word), keys | flags)
    return False


def _option(word: str, keys: frozenset[str]) -> tuple[str, str] | None:
    """`(key, value)` when `word` is a known option typed as `key:value` (value unquoted)."""
    key, sep, _ = raw(word).partition(":")
    if not sep or key.lower() not in keys:
        return None
    if isinstance(word, Token) and word.unclosed:
        raise UsageError(f"the quote after `{key}:` is never closed")
    return key.lower(), str(word)[len(key) + 1 :]


def refuse_near_option(word: str, known: set[str] | frozenset[str]) -> None:
    """A `key:value` word whose key is a near miss of a known option is a typo, not free text:
    `rotaton:emea` must not silently become part of a reason."""
    key, sep, _ = word.partition(":")
    if not sep or not key.isalpha() or key.lower() in known:
        return
    hint = suggest(key.lower(), sorted(known))
    if hint:
        raise UsageError(f"unknown option `{key}:`{hint.replace('`?', ':`?')}")


def suggest(word: str, choices: list[str]) -> str:
    """A ' (did you mean …?)' suffix, or '' when nothing is close.

    A word that starts exactly one choice ("threat" for threat-of-violence) is suggested too:
    people type the first word of a long name.
    """
    starting = [c for c in choices if len(word) >= 3 and c.lower().startswith(word.lower())]
    close = starting if len(starting) == 1 else []
    close = close or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
