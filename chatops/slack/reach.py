"""Reaching Slack when `chatops serve` starts: each failure sorted into "try again" (network,
5xx, rate limits; paced by `Backoff`) or "tell the operator and exit 2" (a refused token, a URL
that is not the Web API), with a few plain words instead of a traceback.
"""

from __future__ import annotations

import errno
import http.client
import logging
import random
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.error import URLError

import websocket
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


_REFUSED_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked"}
_T = TypeVar("_T")


class Unreachable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Fatal(Exception):
    """One line for the operator, then exit code 2."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff, capped, with ±20 % jitter so replicas do not retry in step."""

    base: float = 1.0
    cap: float = 60.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The pause after failed attempt number `attempt` (1-based)."""
        raw = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.cap, raw * (1 + spread)))


def checked(call: Callable[[], _T], token_variable: str, where: str) -> _T:
    """Run one startup call, sorting its failure into unreachable (retry) or fatal (exit 2)."""
    try:
        return call()
    except SlackApiError as error:
        response = error.response
        status = response.status_code
        code = str(response.get("error") or "") if isinstance(response.data, dict) else ""
        if status == 429 or code == "ratelimited":
            retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
            raise Unreachable("rate limited", float_or_none(retry_after)) from None
        if status >= 500:
            raise Unreachable(f"HTTP {status}") from None
        if code.startswith("Received a response in a non-JSON format"):
            # Something answered, but not the Web API: a wrong SLACK_API_URL, not a bad token.
            raise Fatal(
                f"SLACK_API_URL: {where} answered HTTP {status}, not as the Slack Web API does; "
                "check the URL (it normally ends in /api/)"
            ) from None
        if code in _REFUSED_TOKEN:
            raise Fatal(
                f"{token_variable} was refused by Slack ({code}); check the token"
            ) from None
        raise Fatal(f"Slack refused the startup check ({code or f'HTTP {status}'})") from None
    except (URLError, OSError) as error:
        raise Unreachable(network_reason(error)) from None
    except http.client.HTTPException as error:
        raise Unreachable(f"bad HTTP answer: {type(error).__name__}") from None


#: The scopes that let a worker look for a message whose send is in doubt before sending it again
#: (docs/architecture.md, invariant 4; README, "Reading history").
HISTORY_SCOPES = ("channels:history", "groups:history", "im:history")


def missing_history_scopes(headers: Mapping[str, str | list[str]]) -> list[str]:
    """The history scopes the token lacks, read from the `X-OAuth-Scopes` header Slack sends
    with every Web API answer; none when the header is absent (a proxy, an older Slack)."""
    found = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if found is None:
        return []
    value = ",".join(found) if isinstance(found, list) else found
    granted = {scope.strip() for scope in value.split(",")}
    return [scope for scope in HISTORY_SCOPES if scope not in granted]


def history_scopes_warning(missing: list[str]) -> str:
    """The one line said at start when the token lacks history scopes (README, Reading history)."""
    return (
        f"chatops: the Slack app lacks {', '.join(missing)}: a message whose send is in doubt "
        "(a timeout, a crash) is sent again without looking, so it may arrive twice; see README, "
        "Reading history"
    )


def network_reason(error: BaseException) -> str:
    """A few words for why the network call failed, without a traceback."""
    reason: object = error.reason if isinstance(error, URLError) else error
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, ssl.SSLError):
        return "TLS error"
    if isinstance(reason, OSError):
        return os_reason(reason)
    return str(reason) or type(reason).__name__


def websocket_reason(error: Exception) -> str:
    if isinstance(error, websocket.WebSocketBadStatusException):
        return f"WebSocket: HTTP {error.status_code}"
    if isinstance(error, websocket.WebSocketTimeoutException):
        return "WebSocket: timed out"
    if isinstance(error, websocket.WebSocketAddressException):
        return "WebSocket: host name not found"
    if isinstance(error, websocket.WebSocketConnectionClosedException):
        return "WebSocket: connection closed"
    if isinstance(error, OSError):
        return f"WebSocket: {network_reason(error)}"
    return f"WebSocket: {type(error).__name__}"


def os_reason(error: OSError) -> str:
    if error.errno is not None and error.errno in errno.errorcode:
        return (error.strerror or errno.errorcode[error.errno]).lower()
    return str(error) or type(error).__name__


def float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
