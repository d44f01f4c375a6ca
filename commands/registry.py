"""The verbs of `/ts` and the one entry point that runs them: `dispatch`.

Every transport (Slack, the console, tests) calls `dispatch(text, ctx)`, so a command behaves the
same everywhere. A line is tokenized (each word keeps its place in the line, for free text), its
verb found, its words parsed into that verb's typed `Command`, and only then run. Mistakes become
one-line replies; internal errors are logged with a correlation id that the user is given
instead of a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chatops import metrics
from chatops.blockkit import (
    Reply,
    error_reply,
    internal_error_reply,
    quote_input,
    storable,
    user_text,
)
from chatops.logs import correlated, correlation_id
from commands.command import Command
from commands.context import Context, Refused, UsageError
from commands.parsing import suggest, tokenize
from commands.phrases import expand

log = logging.getLogger(__name__)

Parse = Callable[[list[str], Context], Command]
Handler = Callable[[list[str], Context], Reply]
ActionHandler = Callable[[str, Context], Reply]
FormValues = dict[str, dict[str, Any]]
FormHandler = Callable[[FormValues, Context], Reply]
FormCheck = Callable[[FormValues], dict[str, str]]
Registered = TypeVar("Registered", bound="type[Command] | Handler")


@dataclass(frozen=True)
class Verb:
    name: str
    summary: str
    usage: str
    parse: Parse
    examples: tuple[str, ...] = ()
    details: str = ""
    members_only: bool = True
    subverbs: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Form:
    """A submitted form: `check` is pure (answered inline, at once); `handler` does the work."""

    handler: FormHandler
    check: FormCheck
    members_only: bool = True


VERBS: dict[str, Verb] = {}
ACTIONS: dict[str, ActionHandler] = {}
FORMS: dict[str, Form] = {}


class Words(Command):
    """The words of a verb registered as a plain `handler(args, ctx)`, which reads them itself.

    Kept so a test or a quick experiment can add a verb without a model; every verb of the
    product has its own typed `Command`.
    """

    words: tuple[str, ...]
    handler: Handler

    @classmethod
    def parse(cls, args: list[str], ctx: Context) -> Words:
        raise TypeError("Words are built by `verb` for a plain handler")

    def run(self, ctx: Context) -> Reply:
        return self.handler(list(self.words), ctx)


def _parser(target: type[Command] | Handler) -> Parse:
    """How a verb reads its words: its `Command`'s parse, or untyped `Words` for a function."""
    if not isinstance(target, type):
        return lambda args, ctx: Words(words=tuple(args), handler=target)
    if not issubclass(target, Command):
        raise TypeError(f"{target.__name__} is not a Command: it cannot be a verb")
    return target.parse


def verb(
    name: str,
    *,
    summary: str,
    usage: str,
    examples: tuple[str, ...] = (),
    details: str = "",
    members_only: bool = True,
    subverbs: tuple[str, ...] = (),
) -> Callable[[Registered], Registered]:
    """Register the verb `name`: a `Command` class (its `parse` reads the words), or a plain
    `handler(args, ctx)` that reads them itself."""

    def register(target: Registered) -> Registered:
        parse = _parser(target)
        VERBS[name] = Verb(name, summary, usage, parse, examples, details, members_only, subverbs)
        return target

    return register


def action(action_id: str) -> Callable[[ActionHandler], ActionHandler]:
    """Register the handler of a button (`action_id`); it gets the button's value."""

    def register(handler: ActionHandler) -> ActionHandler:
        ACTIONS[action_id] = handler
        return handler

    return register


def form(
    callback_id: str, *, check: FormCheck, members_only: bool = True
) -> Callable[[FormHandler], FormHandler]:
    """Register the handler of a submitted form (`callback_id`) and its pure input check;
    `members_only` False lets anyone in the workspace submit it (the handler decides what)."""

    def register(handler: FormHandler) -> FormHandler:
        FORMS[callback_id] = Form(handler, check, members_only)
        return handler

    return register


def not_a_member(ctx: Context) -> Reply:
    return Reply(
        text=(
            f"You are not a member of the *{user_text(ctx.team_name)}* team in this bot yet, so I "
            f"can't do that for you. Ask {ctx.admin_contact} to add you to the rota."
        ),
        ok=False,
    )


def _guarded(run: Callable[[], Reply], usage: str | None, verb: str) -> Reply:
    """Run it; a mistake or a refusal becomes one line, our error a correlation id (counted)."""
    outcome = metrics.ERROR
    try:
        reply = run()
        outcome = metrics.OK if reply.ok else metrics.REFUSED
        return reply
    except UsageError as error:
        outcome = metrics.REFUSED
        return error_reply(error.reason, error.usage or usage)
    except Refused as error:
        outcome = metrics.REFUSED
        return error_reply(error.reason)
    except Exception:
        log.exception("command failed")
        return internal_error_reply(correlation_id() or "?")
    finally:
        metrics.command(verb, outcome)


def _parse_and_run(found: Verb, args: list[str], ctx: Context) -> Reply:
    command = found.parse(args, ctx)
    log.info(
        "command", extra={"verb": found.name, "actor": ctx.actor.slack_id if ctx.actor else None}
    )
    return command.run(ctx)


def dispatch(text: str, ctx: Context, *, cid: str | None = None) -> Reply:
    """Run one `/ts` line (without the `/ts`) for `ctx.actor`."""
    with correlated(cid):
        words: list[str] = expand(tokenize(storable(text))) or ["help"]
        name, args = words[0].lower(), words[1:]
        found = VERBS.get(name)
        if found is None:
            metrics.command("unknown", metrics.REFUSED)  # the typed word is not a label
            return error_reply(
                f"unknown command `{quote_input(name)}`{suggest(name, sorted(VERBS))}",
                "/ts help",
            )
        if found.members_only and ctx.actor is None:
            return not_a_member(ctx)
        return _guarded(lambda: _parse_and_run(found, args, ctx), found.usage, found.name)


def dispatch_action(action_id: str, value: str, ctx: Context, *, cid: str | None = None) -> Reply:
    """Run a button press; checked against permissions exactly like a typed command."""
    with correlated(cid):
        handler = ACTIONS.get(action_id)
        if handler is None:
            return error_reply("this button is no longer supported")
        if ctx.actor is None:
            return not_a_member(ctx)
        log.info("action", extra={"action": action_id, "actor": ctx.actor.slack_id})
        return _guarded(lambda: handler(value, ctx), None, f"button:{action_id}")


def form_errors(callback_id: str, values: FormValues) -> dict[str, str]:
    """Mistakes in a submitted form by input (block id); {} when it may be submitted."""
    found = FORMS.get(callback_id)
    return found.check(values) if found is not None else {}


def dispatch_form(
    callback_id: str, values: FormValues, ctx: Context, *, cid: str | None = None
) -> Reply:
    """Run a submitted form; checked against permissions exactly like a typed command."""
    with correlated(cid):
        found = FORMS.get(callback_id)
        if found is None:
            return error_reply("this form is no longer supported")
        if found.members_only and ctx.actor is None:
            return not_a_member(ctx)
        actor = ctx.actor.slack_id if ctx.actor else None
        log.info("form", extra={"form": callback_id, "actor": actor})
        kept = {block: _storable_values(v) for block, v in values.items()}
        return _guarded(lambda: found.handler(kept, ctx), None, f"form:{callback_id}")


def _storable_values(value: Any) -> Any:
    """A submitted form's values with every string made storable (see `storable`)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {k: _storable_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable_values(v) for v in value]
    return value
