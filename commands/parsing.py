"""Reading a `/ts` line: words, quoted phrases, Slack mentions and `key:value` options."""

from __future__ import annotations

import difflib
import re
import shlex

from commands.context import UsageError

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def tokenize(text: str) -> list[str]:
    """Split like a shell, so "quoted phrases" stay whole; smart quotes count as quotes."""
    normalised = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        return shlex.split(normalised)
    except ValueError:
        raise UsageError("unbalanced quotes in the command") from None


def mention_id(token: str) -> str | None:
    """The Slack user id in `<@U123|name>`, or None when the token is not a mention."""
    match = _MENTION.match(token)
    return match.group(1) if match else None


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
    """A ' (did you mean …?)' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
