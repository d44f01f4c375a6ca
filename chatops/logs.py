"""Structured logging with one correlation id per request or timer run.

The id lives in a context variable, so every line logged while handling one Slack request (or one
timer) carries it, and the user who hits an internal error is given the same id to quote.
Never log secrets or restricted case text: log ids, kinds and counts.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def new_correlation_id() -> str:
    """Short enough to read over the phone at 3 a.m., long enough not to collide in a day."""
    return secrets.token_hex(4)


def correlation_id() -> str | None:
    return _correlation_id.get()


@contextmanager
def correlated(cid: str | None = None) -> Iterator[str]:
    """Run a block under a correlation id (a new one unless given)."""
    value = cid or new_correlation_id()
    token = _correlation_id.set(value)
    try:
        yield value
    finally:
        _correlation_id.reset(token)


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _correlation_id.get()
        return True


#: Loggers of the Slack libraries: at DEBUG they write whole request and response bodies (a
#: `case show` answer, a slash command's text), and a few of their warnings quote a body too.
SLACK_LIBRARIES = ("slack_sdk", "slack_bolt")
_BODY_HINTS = ("body", "{", "text=", "payload", "message:", "headers")


def _from_slack_library(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in SLACK_LIBRARIES)


class _SlackBodiesFilter(logging.Filter):
    """Drops the Slack libraries' DEBUG records, and cuts their other records that quote a body
    down to the words before it: what people typed must not reach the logs at any level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _from_slack_library(record.name):
            return True
        if record.levelno < logging.INFO:
            return False
        try:
            message = record.getMessage()
        except Exception:  # a malformed library record: keep its level and logger only
            message = "{"
        if any(hint in message.lower() for hint in _BODY_HINTS):
            cut = min((i for i in (message.find("("), message.find(":")) if i >= 0), default=60)
            record.msg = message[: min(cut, 60)].rstrip() + " (details withheld: may quote a body)"
            record.args = None
        return True


def _database_error(error: BaseException) -> str | None:
    """What may be said of a database error: its kind, SQLSTATE, table and constraint, never
    its message. PostgreSQL's messages quote values ("Failing row contains (…)", "Key (k)=(v)
    already exists", "invalid input syntax …: \"…\""), and a value may be a case's text."""
    orig = getattr(error, "orig", None)  # SQLAlchemy wraps the driver's error
    if orig is None and not any(
        cls.__module__.split(".")[0] in {"psycopg", "sqlite3", "sqlalchemy"}
        for cls in type(error).__mro__
        if cls.__name__ not in {"Exception", "BaseException", "object"}
    ):
        return None
    driver = orig if isinstance(orig, BaseException) else error
    diag = getattr(driver, "diag", None)
    said = [f"{type(driver).__module__}.{type(driver).__qualname__}"]
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate:
        said.append(f"SQLSTATE {sqlstate}")
    for label, field in (("table", "table_name"), ("constraint", "constraint_name")):
        value = getattr(diag, field, None) if diag is not None else None
        if value:
            said.append(f"{label} {value}")
    return "database error (message withheld: it may quote values): " + "; ".join(said)


def format_exception_safely(error: BaseException) -> str:
    """A traceback as Python prints it, except that a database error's message (which may
    quote a row's values) is replaced by its kind, SQLSTATE, table and constraint."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        cause = current.__cause__
        current = (
            cause
            if cause is not None
            else (None if current.__suppress_context__ else current.__context__)
        )
    parts: list[str] = []
    for index, exc in enumerate(reversed(chain)):
        if index:
            parts.append(
                "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(exc.__traceback__))
        withheld = _database_error(exc)
        if withheld is not None:
            parts.append(f"{type(exc).__module__}.{type(exc).__qualname__}: {withheld}\n")
        else:
            parts.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(parts).rstrip("\n")


class _SafeExceptions(logging.Formatter):
    """Formats a record's exception with `format_exception_safely`, never reusing the text
    another handler's formatter may have cached on the record (`exc_text`)."""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None
        return super().format(record)

    def formatException(self, ei: object) -> str:
        error = ei[1] if isinstance(ei, tuple) and len(ei) == 3 else None
        if isinstance(error, BaseException):
            return format_exception_safely(error)
        return super().formatException(ei)  # type: ignore[arg-type]


class JsonFormatter(_SafeExceptions):
    """One JSON object per line: time, level, logger, message, correlation id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = getattr(record, "correlation_id", None)
        if cid:
            payload["cid"] = cid
        for key, value in vars(record).items():
            if key not in _RESERVED and key != "correlation_id":
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(_SafeExceptions):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s")


class _CurrentStderr(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the moment of the record, not at set-up: a program
    (or a test harness) that swaps or closes its stderr must not get "I/O on closed file"."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Install one handler on the root logger; safe to call twice."""
    handler: logging.StreamHandler[TextIO] = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    )
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_CorrelationFilter())
    handler.addFilter(_SlackBodiesFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_chatops", False):
            root.removeHandler(old)
    setattr(handler, "_chatops", True)  # noqa: B010 (marks our own handler for replacement)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic narrates every migration step at INFO; keep only its warnings.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    # httpx narrates every request at INFO (and httpcore every socket step at DEBUG): the Web
    # API calls are counted in /metrics and their failures logged by us, once, by outcome.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    # The Slack libraries' DEBUG records carry bodies: not even formatted (the filter is the
    # guarantee; this saves the work).
    for library in SLACK_LIBRARIES:
        logging.getLogger(library).setLevel(max(logging.INFO, root.level))
