"""The shape of what Slack sends, checked before anything reads it.

Bolt and our listeners read payloads as Slack documents them (`user` an object with an `id`,
`actions` a list of objects …). A request that is signed but shaped otherwise (a replay edited by
someone holding the secret, a proxy's mangling, a fuzzer) must be refused with a 400 up front,
not fail halfway through a job that then never answers. Only the fields something here reads are
checked; anything else Slack adds passes through untouched.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

#: Fields that, when present, must be an object whose `id` (if any) is a string.
_OBJECTS = ("user", "team", "enterprise", "channel", "container", "view", "event", "message")
#: Fields that, when present, must be a string.
_STRINGS = ("type", "response_url", "trigger_id", "api_app_id", "team_id", "user_id", "token")
#: A slash command's form fields (all strings by construction) that must be there.
_COMMAND_FIELDS = ("command", "user_id")


class BadPayload(ValueError):
    """The request body is not what Slack sends; the message is one line, safe to log."""


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload Bolt would read from `body`, or `BadPayload` saying why it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPayload("the body is not UTF-8") from None
    if content_type == "application/json" or text.startswith("{"):  # as Bolt decides
        return _object(text, "the JSON body")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        raise BadPayload("the form body cannot be read") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        # Bolt reads the first of repeated fields: checking the last would check the wrong one.
        raise BadPayload("a form field is repeated")
    if "payload" in form:
        return _object(form["payload"], "`payload`")
    return form


def _object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadPayload(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise BadPayload(f"{what} is not a JSON object")
    return value


def check_payload(payload: dict[str, Any]) -> None:
    """Raise `BadPayload` when a field we or Bolt read has the wrong type or is missing."""
    for name in _STRINGS:
        if name in payload and not isinstance(payload[name], str):
            raise BadPayload(f"`{name}` is not a string")
    for name in _OBJECTS:
        if payload.get(name) is not None:
            _id_object(payload[name], name)
    if "event" in payload and payload["event"] is None:
        # Slack sends `enterprise: null` and the like, never a null event; Bolt's own
        # middleware reads `body.get("event", {}).get(…)` and would fail on one (a 500).
        raise BadPayload("`event` is null")
    kind = payload.get("type")
    if kind is None:
        if "command" in payload or "user_id" in payload:
            for name in _COMMAND_FIELDS:
                if not payload.get(name):
                    raise BadPayload(f"a slash command without `{name}`")
        return
    if kind == "block_actions":
        _user(payload)
        _actions(payload.get("actions"))
    elif kind in {"view_submission", "view_closed"}:
        _user(payload)
        _view(payload.get("view"))
    elif kind == "event_callback":
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise BadPayload("an event callback without an event type")
        for name in ("user", "tab", "channel"):
            if name in event and not isinstance(event[name], str):
                raise BadPayload(f"`event.{name}` is not a string")
        if not isinstance(payload.get("event_id", ""), str):
            raise BadPayload("`event_id` is not a string")
    if "authorizations" in payload and not _list_of_objects(payload["authorizations"]):
        raise BadPayload("`authorizations` is not a list of objects")


def _id_object(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise BadPayload(f"`{name}` is not an object")
    if "id" in value and not isinstance(value["id"], str):
        raise BadPayload(f"`{name}.id` is not a string")


def _user(payload: dict[str, Any]) -> None:
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise BadPayload("no `user.id`")


def _actions(actions: Any) -> None:
    if not isinstance(actions, list) or not actions or not _list_of_objects(actions):
        raise BadPayload("`actions` is not a list of objects")
    for action in actions:
        if not isinstance(action.get("action_id"), str):
            raise BadPayload("an action without an `action_id`")
        if "value" in action and not isinstance(action["value"], str):
            raise BadPayload("an action's `value` is not a string")
        selected = action.get("selected_option")
        if selected is not None and (
            not isinstance(selected, dict) or not isinstance(selected.get("value", ""), str)
        ):
            raise BadPayload("an action's `selected_option` is not an option")


def _view(view: Any) -> None:
    if not isinstance(view, dict) or not isinstance(view.get("callback_id"), str):
        raise BadPayload("a view without a `callback_id`")
    if not isinstance(view.get("private_metadata", ""), str):
        raise BadPayload("`view.private_metadata` is not a string")
    state = view.get("state", {})
    values = state.get("values", {}) if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(
        isinstance(block, dict) and all(isinstance(v, dict) for v in block.values())
        for block in values.values()
    ):
        raise BadPayload("`view.state.values` is not a map of inputs")


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)
