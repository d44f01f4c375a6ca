"""Block Kit builders and `Reply`: answers are data that Slack and the console both render.

This module sits below every service and every verb (docs/architecture.md, "Layers"): services
build the messages they queue with it, commands build their answers with it, and only the edges
(chatops/slack, the console) turn them into transport calls.

Slack's limits shape these: a section's text is at most 3,000 characters and a message holds at
most 50 blocks, so `truncate` and `Reply.blocks` keep to them instead of letting Slack refuse.

Text people typed (case summaries, notes, reasons, names from the rota file) enters a message only
through `user_text` (or `quote_input` in a refusal): Slack reads `<!channel>`, `<@U…>` and
`<url|label>` in any text, so one unescaped summary could ping a whole workspace or disguise a
link. Our own markup (mentions we build, code spans) is added around the escaped text, never
escaped twice.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Block = dict[str, Any]

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50


#: At most this much of what someone typed is quoted back in a refusal.
QUOTE_LIMIT = 100
#: Spread over a posted message, never clickable: unfurling would fetch the link for everyone.
NO_UNFURL: dict[str, bool] = {"unfurl_links": False, "unfurl_media": False}

_URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://([^\s/?#<>|]*)|\bwww\.([^\s/?#<>|]*)", re.IGNORECASE)
_KEPT_CONTROLS = frozenset("\n\t")


def truncate(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """At most `limit` characters, ending in "…" when cut; never inside one of Slack's escapes
    (`&amp;`, `&lt;`, `&gt;`), which would show a broken `&am…`."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    entity = text.rfind("&", max(0, cut - 4), cut)
    if entity != -1 and text.find(";", entity) >= cut:
        cut = entity
    return text[:cut] + "…"


def escape(text: str) -> str:
    """Slack's escaping: the only three characters its message markup gives meaning to."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf"}


#: Quote marks: a text of nothing else (`""`, `“”`, `''`, `「」`) was meant to be empty.
_QUOTE_MARKS = frozenset("\"'`“”„‟‘’‚‛«»‹›「」『』｢｣〝〞〟❛❜❝❞⹂＂＇｀")
#: Characters that draw nothing though they are letters or symbols to Unicode: the braille
#: blank and the Hangul fillers, used to post "empty" messages.
_BLANK_GLYPHS = frozenset("\u2800\u115f\u1160\u3164\uffa0")


def _invisible(char: str) -> bool:
    return (
        char.isspace()
        # a control or format character, a mark alone (it draws nothing), a quote mark
        or unicodedata.category(char) in {"Cc", "Cf", "Mn", "Me", "Pi", "Pf"}
        or char in _BLANK_GLYPHS
        or char in _QUOTE_MARKS
    )


def blank(text: str) -> bool:
    """Whether `text` says nothing: only spaces, control and invisible format characters (a
    zero-width space, a stray direction mark, a combining mark with nothing to combine with),
    blank glyphs (the braille blank) and quote marks (`""` typed for "empty")."""
    return all(_invisible(c) for c in text)


def defang(text: str) -> str:
    """Links in typed text made unclickable (`https://a.org` → `hxxps://a[.]org`): a reader of a
    report about a harmful site must not open it, or have Slack preview it, by accident."""

    def _one(match: re.Match[str]) -> str:
        if match.group(3) is not None:
            return "www[.]" + match.group(3).replace(".", "[.]")
        scheme = match.group(1)
        shown = re.sub(r"^(h)tt(ps?)$", r"\1xx\2", scheme, flags=re.IGNORECASE)
        if shown == scheme:
            shown = scheme + "[:]"
            return f"{shown}//{match.group(2).replace('.', '[.]')}"
        return f"{shown}://{match.group(2).replace('.', '[.]')}"

    return _DOMAIN.sub(lambda m: m.group(0).replace(".", "[.]"), _URL.sub(_one, text))


#: A bare domain (`evil.example`, `a.b.org/x`), which Slack would make a link by itself: dots
#: between labels, the last one alphabetic. Already defanged text (`[.]`) no longer matches.
_DOMAIN = re.compile(r"(?<![\w.\[-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?![\w-])", re.IGNORECASE)
_SLACK_ID = re.compile(r"[UW][A-Z0-9]+")


def mention(slack_id: str) -> str:
    """`<@U…>` for a Slack user id; anything else (a hand-edited rota file) shown as text."""
    return f"<@{slack_id}>" if _SLACK_ID.fullmatch(slack_id) else escape(slack_id)


#: Format characters that reorder what a reader sees (bidi embeddings, overrides, isolates):
#: they can make a shown text say something else than its letters do, so messages drop them.
#: Other format characters stay: the marks right-to-left text needs (U+200E, U+200F) and the
#: joiners that make up emoji.
_REORDERING = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _hidden_in_messages(char: str) -> bool:
    if char in _KEPT_CONTROLS:
        return False
    return char in _REORDERING or unicodedata.category(char) == "Cc"


def user_text(text: str, limit: int | None = None) -> str:
    """Typed text as it may appear in any message: exactly as typed (right-to-left marks and
    emoji joiners included) except control characters (not line breaks and tabs) and
    reordering marks, links defanged, cut to `limit` with "…", then escaped for Slack."""
    cleaned = "".join(c for c in text if not _hidden_in_messages(c))
    cleaned = defang(cleaned)
    if limit is not None:
        cleaned = truncate(cleaned, limit)
    return escape(cleaned)


def storable(text: str) -> str:
    """Text any database can keep: NUL removed (PostgreSQL refuses it in text), a lone
    surrogate (half of a UTF-16 pair, which UTF-8 cannot encode) replaced by U+FFFD."""
    kept = text.replace("\x00", "")
    if not has_lone_surrogate(kept):
        return kept
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in kept)


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds half of a UTF-16 pair, which no UTF-8 store can keep."""
    return any("\ud800" <= c <= "\udfff" for c in text)


def unescape(text: str) -> str:
    """Slack's three escapes turned back into characters, for a terminal (console, CLI)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def quote_input(text: str, limit: int = QUOTE_LIMIT) -> str:
    """What someone typed, echoed in a refusal: at most `limit` characters then "…", every
    control character shown as a visible escape (`\\x07`, `\\u202e`), safe inside a code span."""
    shown = "".join(
        c if c == " " or not _is_control(c) else ascii(c)[1:-1] for c in text[: limit + 1]
    )
    shown = shown.replace("`", "'")
    if len(shown) > limit:
        shown = shown[:limit] + "…"
    return escape(defang(shown))


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(text)}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, 150)}}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def fields(pairs: list[tuple[str, str]]) -> Block:
    """A section of label/value pairs (at most ten, as Slack allows)."""
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": truncate(f"*{label}*\n{value}", FIELD_TEXT_LIMIT)}
            for label, value in pairs[:MAX_FIELDS]
        ],
    }


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, 75)},
        "action_id": action_id,
        "value": truncate(value, 2000),
    }
    if style in {"primary", "danger"}:
        element["style"] = style
    return element


def actions(*buttons: Block) -> Block:
    return {"type": "actions", "elements": list(buttons)}


class Visibility(StrEnum):
    ephemeral = "ephemeral"  # only the person who asked
    in_channel = "in_channel"  # the channel where the command was typed


@dataclass(frozen=True)
class Attachment:
    """A file that goes with a reply (a chart). The edge delivers it to the asker only: Slack
    uploads it to their DM, the console writes it to a temporary folder and prints the path."""

    filename: str
    title: str
    data: bytes


@dataclass
class Reply:
    """A reply to one command. `posts` are extra messages for the team channel; `files` go to
    the asker alone, whatever the reply's visibility."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    visibility: Visibility = Visibility.ephemeral
    posts: list[Reply] = field(default_factory=list)
    ok: bool = True
    files: list[Attachment] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = [section(self.text)]
        if len(self.blocks) > MAX_BLOCKS:
            hidden = len(self.blocks) - MAX_BLOCKS + 1
            self.blocks = [*self.blocks[: MAX_BLOCKS - 1], context(f"… {hidden} more not shown")]


def internal_error_reply(cid: str) -> Reply:
    """Our own failure: the reference to quote (also in the logs), never a traceback."""
    return Reply(
        text=(
            ":x: Something went wrong on our side and nothing was changed. "
            f"Quote reference `{cid}` when you report it."
        ),
        ok=False,
    )


def error_reply(reason: str, usage: str | None = None) -> Reply:
    """A user's mistake: one line of reason, then the usage; nothing was changed.

    Typed words in `reason` were quoted with `quote_input`; control characters that reach here
    anyway are shown as escapes, so a refusal can never carry invisible text.
    """
    shown = "".join(
        c if c in _KEPT_CONTROLS or not _is_control(c) else ascii(c)[1:-1] for c in reason
    )
    lines = [f":warning: {shown}"]
    if usage:
        lines.append(f"Usage: `{usage}`")
    return Reply(text="\n".join(lines), ok=False)
