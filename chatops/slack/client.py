"""The bot's Web API client for the Slack adapter: who the bot is, retries, per-request tokens."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import SlackResponse

from chatops import metrics
from chatops.settings import Settings

WEB_API_TIMEOUT_S = 15
#: A Web API method name (chat.postMessage); anything else is not used as a metric label.
_API_METHOD = re.compile(r"^[a-z]+(\.[A-Za-z]+){1,3}$")


class _TokenNotes(logging.Filter):
    """Drops Bolt's startup note that SLACK_BOT_TOKEN in the environment goes unused.

    That is by design here (`authorize` hands out the token), and a warning at every start
    would teach operators to ignore warnings.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token`" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_TokenNotes())


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in the workspace, as `auth.test` told `serve()` at startup."""

    team_id: str | None = None
    user_id: str | None = None
    bot_id: str | None = None

    @classmethod
    def from_auth_test(cls, response: SlackResponse) -> BotIdentity:
        return cls(
            team_id=response.get("team_id"),
            user_id=response.get("user_id"),
            bot_id=response.get("bot_id"),
        )


class _CountRateLimits(RetryHandler):
    """Counts every 429 the client meets (`chatops_slack_rate_limited_total`); retries nothing.

    First in the list, it sees each answer before the handler that retries it, and it overrides
    `can_retry` itself: the base class stops consulting a handler after its attempt budget.
    """

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            method = request.url.split("?", 1)[0].rsplit("/", 1)[-1]
            metrics.rate_limited(method if _API_METHOD.match(method) else "other")
        return False


def retry_handlers() -> list[RetryHandler]:
    """Retry what is safe to retry: rate limits (honouring Retry-After), 5xx, connection errors."""
    return [
        _CountRateLimits(),
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def build_web_client(settings: Settings) -> WebClient:
    """The bot's Web API client at `settings.slack_api_url`, with retries."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_S,
        retry_handlers=retry_handlers(),
    )


def with_token(client: WebClient, token: str | None) -> WebClient:
    """The same client settings (URL, retries, timeout) with `token` (None: `authorize` adds it)."""
    return WebClient(
        token=token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        retry_handlers=client.retry_handlers,
        logger=client.logger,
    )


def slack_error(error: Exception) -> str:
    """A short error kind for logs: Slack's error code, else the exception's class name."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or f"http {error.response.status_code}")
    return type(error).__name__
