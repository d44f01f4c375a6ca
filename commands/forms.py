"""Forms: the modal that `/ts case open` alone opens in Slack, the one the *Report to Trust &
Safety* message shortcut opens, and reading what was submitted.

Transport-neutral data like `chatops.blockkit`: the Slack adapter only opens the view and hands
the submitted values back. Checking is pure (no database) so the adapter can answer mistakes
inline within Slack's 3 seconds; the case is opened later by the same code as the typed command.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chatops.blockkit import Block, blank, truncate
from chatops.cases.models import RESTRICTED_BY_DEFAULT, SEVERITY_MEANING, CaseType, Severity
from chatops.languages import known_language
from commands.phrases import expand
from commands.registry import FormValues

CASE_OPEN_FORM = "case_open"
"""The modal's callback_id."""

VALUE = "value"  # the one action id of every input in our forms
TYPE_BLOCK, SEVERITY_BLOCK, SUMMARY_BLOCK = "case_type", "severity", "summary"
DETAILS_BLOCK, LANGUAGE_BLOCK, RESTRICTED_BLOCK = "details", "language", "restricted"

SUMMARY_MAX = 200  # a headline, not the story: details hold that
DETAILS_MAX = 3000  # what one section of `/ts case show` can display
LANGUAGE_MAX = 8  # pt-BR, zh-Hant
OPTION_TEXT_MAX = 75  # Slack's limit for an option's text and description

_TEXT_COMMANDS = {"case open"}


def _plain(text: str, limit: int = OPTION_TEXT_MAX) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit)}


def _option(value: str, text: str, description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _plain(text), "value": value}
    if description:
        option["description"] = _plain(description)
    return option


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = ""
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": {**element, "action_id": VALUE},
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block


def case_open_view(private_metadata: str = "") -> dict[str, Any]:
    """The "open a case" modal; `private_metadata` comes back with the submission untouched."""
    restricted_types = " and ".join(t.value for t in CaseType if t in RESTRICTED_BY_DEFAULT)
    return {
        "type": "modal",
        "callback_id": CASE_OPEN_FORM,
        "title": _plain("Open a case", 24),
        "submit": _plain("Open and page", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": private_metadata[:3000],
        "blocks": [
            _input(
                TYPE_BLOCK,
                "Case type",
                {
                    "type": "static_select",
                    "placeholder": _plain("Choose a type"),
                    "options": [_option(t.value, t.value) for t in CaseType],
                },
            ),
            _input(
                SEVERITY_BLOCK,
                "Severity",
                {
                    "type": "static_select",
                    "placeholder": _plain("Choose a severity"),
                    "options": [_option(s.value, s.value, SEVERITY_MEANING[s]) for s in Severity],
                },
            ),
            _input(
                SUMMARY_BLOCK,
                "Summary",
                {"type": "plain_text_input", "max_length": SUMMARY_MAX},
                hint="One line; the team channel sees it unless the case is restricted.",
            ),
            _input(
                DETAILS_BLOCK,
                "Details",
                {"type": "plain_text_input", "multiline": True, "max_length": DETAILS_MAX},
                optional=True,
                hint="Only shown by `/ts case show`, never in channel messages.",
            ),
            _input(
                LANGUAGE_BLOCK,
                "Language",
                {
                    "type": "plain_text_input",
                    "max_length": LANGUAGE_MAX,
                    "placeholder": _plain("e.g. ar or pt-BR"),
                },
                optional=True,
                hint="A language code: a responder who speaks it is asked to advise.",
            ),
            _input(
                RESTRICTED_BLOCK,
                "Restricted",
                {
                    "type": "checkboxes",
                    "options": [
                        _option(
                            "yes",
                            "Restrict this case",
                            "The channel sees only its id, type and severity.",
                        )
                    ],
                },
                optional=True,
                hint=f"{restricted_types} cases are restricted by default, ticked or not.",
            ),
        ],
    }


def form_for_command(text: str, private_metadata: str = "") -> dict[str, Any] | None:
    """The modal a `/ts` line opens instead of running (only `case open` alone, or a phrase for
    it), else None."""
    if " ".join(expand(text.split())).lower() in _TEXT_COMMANDS:  # `open case`, `case new`
        return case_open_view(private_metadata)
    return None


@dataclass(frozen=True)
class CaseForm:
    """A checked "open a case" submission; `restricted` None leaves it to the case type."""

    case_type: str
    severity: str
    summary: str
    details: str
    language: str | None
    restricted: bool | None


def valid_language(code: str) -> bool:
    """An ISO 639-1 code like `ar` or `pt-BR`: the same rule as the typed `lang:` option."""
    return (
        2 <= len(code) <= LANGUAGE_MAX and code.replace("-", "").isalpha() and known_language(code)
    )


def _state(values: FormValues, block_id: str) -> dict[str, Any]:
    state = (values.get(block_id) or {}).get(VALUE)
    return state if isinstance(state, dict) else {}


def _text(values: FormValues, block_id: str) -> str:
    return str(_state(values, block_id).get("value") or "").strip()


def _selected(values: FormValues, block_id: str) -> str:
    return str((_state(values, block_id).get("selected_option") or {}).get("value") or "")


def read_case_form(values: FormValues) -> tuple[CaseForm | None, dict[str, str]]:
    """The submission as a `CaseForm`, or the errors to show under each input (by block id)."""
    errors: dict[str, str] = {}
    case_type, severity = _selected(values, TYPE_BLOCK), _selected(values, SEVERITY_BLOCK)
    if case_type not in {t.value for t in CaseType}:
        errors[TYPE_BLOCK] = "Choose one of the case types."
    if severity not in {s.value for s in Severity}:
        errors[SEVERITY_BLOCK] = "Choose a severity from sev1 to sev4."
    summary = _text(values, SUMMARY_BLOCK)
    if blank(summary):  # `""` or invisible characters say nothing: told here, form still open
        errors[SUMMARY_BLOCK] = "A case needs a summary."
    elif len(summary) > SUMMARY_MAX:
        errors[SUMMARY_BLOCK] = f"Keep the summary to {SUMMARY_MAX} characters; use details."
    details = _text(values, DETAILS_BLOCK)
    if len(details) > DETAILS_MAX:
        errors[DETAILS_BLOCK] = f"Details are limited to {DETAILS_MAX} characters."
    language = _text(values, LANGUAGE_BLOCK) or None
    if language is not None and not valid_language(language):
        errors[LANGUAGE_BLOCK] = "Use a two-letter language code (ISO 639-1) like ar or pt-BR."
    ticked = _state(values, RESTRICTED_BLOCK).get("selected_options") or []
    restricted = True if any(o.get("value") == "yes" for o in ticked) else None
    if errors:
        return None, errors
    form = CaseForm(case_type, severity, summary, details, language, restricted)
    return form, {}


def case_form_errors(values: FormValues) -> dict[str, str]:
    """Only the errors: what the adapter answers inline before closing the modal."""
    return read_case_form(values)[1]


# -- "Report to Trust & Safety": the message shortcut's form ---------------------------------

REPORT_FORM = "report_message"
"""The callback_id of the message shortcut (manifest.yml) and of the modal it opens."""

WHAT_BLOCK = "what_happened"
WHAT_MAX = 2000
#: A message link as Slack gives it (chat.getPermalink) or as `permalink_for` builds it.
PERMALINK = re.compile(
    r"^https://[A-Za-z0-9-]{1,63}(?:\.enterprise)?\.slack\.com/archives/[A-Z0-9]{1,20}/p[0-9]{1,20}"
    r"(?:\?thread_ts=[0-9.]{1,24}&cid=[A-Z0-9]{1,20})?$"
)
_SLACK_ID = re.compile(r"^[UWB][A-Z0-9]{1,20}$")
_CHANNEL = re.compile(r"^[CDG][A-Z0-9]{1,20}$")
_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,8}$")


@dataclass(frozen=True)
class MessageRef:
    """The reported message: where it is and who wrote it (never its text)."""

    channel: str
    ts: str
    author: str
    permalink: str

    def to_metadata(self) -> str:
        return json.dumps(
            {"c": self.channel, "ts": self.ts, "a": self.author, "p": self.permalink},
            separators=(",", ":"),
        )

    @classmethod
    def from_metadata(cls, text: str | None) -> MessageRef | None:
        """The reference a modal carried back, or None when it is not one of ours."""
        try:
            data = json.loads(text or "")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        ref = cls(*(str(data.get(k, "")) for k in ("c", "ts", "a", "p")))
        return ref if ref.valid() else None

    def valid(self) -> bool:
        return bool(
            _CHANNEL.match(self.channel)
            and _TS.match(self.ts)
            and _SLACK_ID.match(self.author)
            and PERMALINK.match(self.permalink)
        )


def permalink_for(domain: str, channel: str, ts: str, thread_ts: str | None = None) -> str:
    """A message's link built from the payload, for when `chat.getPermalink` cannot be asked."""
    link = f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


def report_view(ref: MessageRef) -> dict[str, Any]:
    """The short form the shortcut opens: type, severity, what happened."""
    return {
        "type": "modal",
        "callback_id": REPORT_FORM,
        "title": _plain("Report to T&S", 24),
        "submit": _plain("Report", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": ref.to_metadata(),
        "blocks": [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "The on-call responder gets a link to the message and its "
                        "author; its text is not copied.",
                    }
                ],
            },
            _input(
                TYPE_BLOCK,
                "What kind of harm",
                {
                    "type": "static_select",
                    "options": [_option(t.value, t.value) for t in CaseType],
                    "initial_option": _option(CaseType.other.value, CaseType.other.value),
                },
            ),
            _input(
                SEVERITY_BLOCK,
                "How urgent",
                {
                    "type": "static_select",
                    "options": [_option(s.value, s.value, SEVERITY_MEANING[s]) for s in Severity],
                    "initial_option": _option(
                        Severity.sev2.value, Severity.sev2.value, SEVERITY_MEANING[Severity.sev2]
                    ),
                },
            ),
            _input(
                WHAT_BLOCK,
                "What happened",
                {"type": "plain_text_input", "multiline": True, "max_length": WHAT_MAX},
                hint="A sentence or two for the responder.",
            ),
        ],
    }


@dataclass(frozen=True)
class ReportForm:
    case_type: str
    severity: str
    summary: str  # the first SUMMARY_MAX characters of what happened
    details: str  # all of it, when longer


def read_report_form(values: FormValues) -> tuple[ReportForm | None, dict[str, str]]:
    errors: dict[str, str] = {}
    case_type, severity = _selected(values, TYPE_BLOCK), _selected(values, SEVERITY_BLOCK)
    if case_type not in {t.value for t in CaseType}:
        errors[TYPE_BLOCK] = "Choose one of the case types."
    if severity not in {s.value for s in Severity}:
        errors[SEVERITY_BLOCK] = "Choose a severity from sev1 to sev4."
    what = _text(values, WHAT_BLOCK)
    if blank(what):
        errors[WHAT_BLOCK] = "Say in a sentence what happened."
    elif len(what) > WHAT_MAX:
        errors[WHAT_BLOCK] = f"Keep it to {WHAT_MAX} characters."
    if errors:
        return None, errors
    summary = " ".join(what.split())
    if len(summary) > SUMMARY_MAX:
        summary = truncate(summary, SUMMARY_MAX)
    details = what if summary != what else ""
    return ReportForm(case_type, severity, summary, details), {}


def report_form_errors(values: FormValues) -> dict[str, str]:
    return read_report_form(values)[1]
