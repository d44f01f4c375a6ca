"""Runtime settings, read from the environment and `.env` (pydantic-settings).

A wrong or missing setting must stop the program with one line that names the variable, so
`load_settings` turns every failure into a `SettingsError` whose message is that line.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from croniter import croniter
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatops.casetypes import CaseType
from chatops.clock import parse_duration
from chatops.dburl import redact

SLACK_API_DEFAULT = "https://slack.com/api/"
_ENV_LINE = re.compile(r"^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=")


class SettingsError(Exception):
    """A setting is wrong or missing; the message is one line naming it."""


class LogFormat(StrEnum):
    json = "json"
    text = "text"


class Settings(BaseSettings):
    """Every setting of the bot; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default=SLACK_API_DEFAULT, alias="SLACK_API_URL")
    database_url: str = Field(default="sqlite:///chatops.db", alias="DATABASE_URL")
    team: str | None = Field(default=None, alias="CHATOPS_TEAM")
    log_level: str = Field(default="INFO", alias="CHATOPS_LOG_LEVEL")
    log_format: LogFormat = Field(default=LogFormat.json, alias="CHATOPS_LOG_FORMAT")
    port: int = Field(default=3000, ge=1, le=65535, alias="PORT")
    check_horizon_days: int = Field(default=28, ge=1, le=366, alias="CHATOPS_CHECK_HORIZON_DAYS")
    run_worker: bool = Field(default=True, alias="CHATOPS_RUN_WORKER")
    work_processes: int = Field(default=2, ge=0, le=64, alias="CHATOPS_WORK_PROCESSES")
    work_threads: int = Field(default=4, ge=1, le=64, alias="CHATOPS_WORK_THREADS")
    work_nice: int = Field(default=19, ge=0, le=19, alias="CHATOPS_WORK_NICE")
    handoff_reminder: str = Field(default="15m", alias="CHATOPS_HANDOFF_REMINDER")
    handoff_accept_within: str = Field(default="10m", alias="CHATOPS_HANDOFF_ACCEPT_WITHIN")
    handoff_catch_up: str = Field(default="2h", alias="CHATOPS_HANDOFF_CATCH_UP")
    coverage_watch: bool = Field(default=True, alias="CHATOPS_COVERAGE_WATCH")
    coverage_watch_cron: str = Field(default="0 9 * * *", alias="CHATOPS_COVERAGE_WATCH_CRON")
    coverage_watch_days: int = Field(default=14, ge=1, le=366, alias="CHATOPS_COVERAGE_WATCH_DAYS")
    coverage_watch_quiet: bool = Field(default=True, alias="CHATOPS_COVERAGE_WATCH_QUIET")
    admin_contact: str = Field(default="your team's managers", alias="CHATOPS_ADMIN_CONTACT")
    # Cases one person may open or escalate a minute (counted in the audit trail, all replicas).
    page_limit_per_minute: int = Field(
        default=10, ge=1, le=1000, alias="CHATOPS_PAGE_LIMIT_PER_MINUTE"
    )
    retention_days: int = Field(default=90, ge=1, le=36500, alias="CHATOPS_RETENTION_DAYS")
    retention_days_by_type: str = Field(default="", alias="CHATOPS_RETENTION_DAYS_BY_TYPE")
    public_url: str | None = Field(default=None, alias="CHATOPS_PUBLIC_URL")

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        """The bot's public base URL (calendar links); blank is unset, a path is not allowed."""
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and not re.match(r"^https?://[^/\s?#]+/?$", value.strip()):
            raise ValueError("must be the bot's public base URL, e.g. https://chatops.example.org")
        return value.strip().rstrip("/") if isinstance(value, str) else value

    # Time to report a child-safety case to the clearinghouse, from its opening.
    report_within: str = Field(default="24h", alias="CHATOPS_REPORT_WITHIN")
    # Days a filed report's contents are preserved (18 U.S.C. 2258A: one year).
    report_preserve_days: int = Field(
        default=365, ge=365, le=3650, alias="CHATOPS_REPORT_PRESERVE_DAYS"
    )

    # Probes and metrics (docs/deploy.md): a port of their own for `chatops worker` and Socket
    # Mode (blank: none; `chatops serve` over HTTP has them on PORT too), and what /readyz needs.
    metrics_port: int | None = Field(default=None, ge=1, le=65535, alias="CHATOPS_METRICS_PORT")
    ready_needs_worker: bool = Field(default=True, alias="CHATOPS_READY_NEEDS_WORKER")
    worker_stale_after: str = Field(default="1m", alias="CHATOPS_WORKER_STALE_AFTER")

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _blank_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    # The @ts-oncall Slack user group (its id, S…) the worker keeps equal to who is on call,
    # and the one layer it follows (unset: every layer).
    oncall_group: str | None = Field(default=None, alias="CHATOPS_ONCALL_GROUP")
    oncall_group_layer: str | None = Field(default=None, alias="CHATOPS_ONCALL_GROUP_LAYER")

    @field_validator("oncall_group", "oncall_group_layer", mode="before")
    @classmethod
    def _oncall_group(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("oncall_group")
    @classmethod
    def _group_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^S[A-Z0-9]{2,30}$", value):
            raise ValueError("must be a Slack user group id like S0123ABCD")
        return value

    @field_validator(
        "slack_bot_token", "slack_signing_secret", "slack_app_token", "team", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with 'xoxb-'")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with 'xapp-'")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_kind(cls, value: str) -> str:
        kind = value.split(":", 1)[0].split("+", 1)[0] if ":" in value else ""
        if kind not in {"sqlite", "postgresql", "postgres"}:
            shown = kind or redact(value)
            raise ValueError(
                f"unknown database kind {shown!r}; use sqlite:///FILE or postgresql://USER@HOST/DB"
            )
        return value

    @field_validator(
        "handoff_reminder",
        "handoff_accept_within",
        "handoff_catch_up",
        "report_within",
        "worker_stale_after",
    )
    @classmethod
    def _duration(cls, value: str) -> str:
        if value.strip() != "0":
            try:
                parse_duration(value)
            except ValueError as error:
                raise ValueError(str(error)) from None
        return value.strip()

    @field_validator("coverage_watch_cron")
    @classmethod
    def _watch_cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a five-field cron expression like '0 9 * * *'")
        return value

    @field_validator("retention_days_by_type")
    @classmethod
    def _retention_map(cls, value: str) -> str:
        parse_retention_map(value)
        return value.strip()

    @property
    def retention_by_type(self) -> dict[str, int]:
        """Days a resolved case of each listed type is kept (others: `retention_days`)."""
        return parse_retention_map(self.retention_days_by_type)

    def duration(self, value: str) -> timedelta:
        """A validated duration setting ("0" is none)."""
        return timedelta(0) if value == "0" else parse_duration(value)

    @field_validator("log_level")
    @classmethod
    def _level_name(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def slack_enabled(self) -> bool:
        """Slack mode needs a bot token and either an app token or a signing secret."""
        return bool(self.slack_bot_token and (self.slack_app_token or self.slack_signing_secret))

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


def parse_retention_map(text: str) -> dict[str, int]:
    """`child-safety=3650,self-harm=365` as {type: days}; a wrong entry is a ValueError."""
    found: dict[str, int] = {}
    valid = [t.value for t in CaseType]
    for entry in filter(None, (e.strip() for e in text.split(","))):
        kind, sep, days = entry.partition("=")
        kind = kind.strip().lower()
        if not sep or kind not in valid:
            raise ValueError(f"{entry!r} is not TYPE=DAYS with TYPE one of {', '.join(valid)}")
        if not days.strip().isdigit() or not 1 <= int(days) <= 36500:
            raise ValueError(f"{entry!r}: DAYS must be a whole number from 1 to 36500")
        found[kind] = int(days)
    return found


def _check_env_file(path: Path) -> None:
    """python-dotenv skips lines it cannot parse with a warning; we refuse them instead."""
    if not path.is_file():
        return
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not _ENV_LINE.match(line):
            raise SettingsError(f"{path}: line {number} is not NAME=value")


def load_settings(env_file: Path | str | None = ".env") -> Settings:
    """Read the settings, or raise `SettingsError` with one line naming what is wrong."""
    if env_file is not None:
        _check_env_file(Path(env_file))
    try:
        return Settings(_env_file=env_file)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        known = Settings.model_fields.get(field)
        name = known.alias if known is not None and known.alias else field
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{env_file}: not UTF-8 text") from None
