"""Settings: every wrong or missing value is one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatops.settings import Settings, SettingsError, load_settings

NAMES = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "CHATOPS_TEAM",
    "CHATOPS_LOG_LEVEL",
    "CHATOPS_LOG_FORMAT",
    "PORT",
    "CHATOPS_CHECK_HORIZON_DAYS",
    "CHATOPS_RUN_WORKER",
    "CHATOPS_WORK_PROCESSES",
    "CHATOPS_WORK_THREADS",
    "CHATOPS_WORK_NICE",
    "CHATOPS_ADMIN_CONTACT",
    "CHATOPS_PAGE_LIMIT_PER_MINUTE",
    "CHATOPS_PUBLIC_URL",
    "CHATOPS_HANDOFF_REMINDER",
    "CHATOPS_HANDOFF_ACCEPT_WITHIN",
    "CHATOPS_HANDOFF_CATCH_UP",
    "CHATOPS_COVERAGE_WATCH",
    "CHATOPS_COVERAGE_WATCH_CRON",
    "CHATOPS_COVERAGE_WATCH_DAYS",
    "CHATOPS_COVERAGE_WATCH_QUIET",
    "CHATOPS_RETENTION_DAYS",
    "CHATOPS_RETENTION_DAYS_BY_TYPE",
    "CHATOPS_REPORT_WITHIN",
    "CHATOPS_REPORT_PRESERVE_DAYS",
    "CHATOPS_METRICS_PORT",
    "CHATOPS_READY_NEEDS_WORKER",
    "CHATOPS_WORKER_STALE_AFTER",
    "CHATOPS_ONCALL_GROUP",
    "CHATOPS_ONCALL_GROUP_LAYER",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_env_file_are_console_mode(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.env")
    assert settings.database_url == "sqlite:///chatops.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert not settings.slack_enabled


def test_env_file_values_are_read_and_secrets_hidden(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# comment\nSLACK_BOT_TOKEN=xoxb-123\nexport SLACK_SIGNING_SECRET=abc\n"
        "SLACK_API_URL=http://127.0.0.1:9999/api\n"
    )
    settings = load_settings(env)
    assert settings.slack_enabled and not settings.socket_mode
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert "xoxb-123" not in repr(settings) and "abc" not in str(settings)


def test_environment_wins_over_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("CHATOPS_TEAM=from-file\n")
    monkeypatch.setenv("CHATOPS_TEAM", "from-env")
    assert load_settings(env).team == "from-env"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL: unknown database kind 'mysql'"),
        ("DATABASE_URL", "chatops.db", "DATABASE_URL: unknown database kind"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN: must be a bot token"),
        ("SLACK_APP_TOKEN", "xoxb-1", "SLACK_APP_TOKEN: must be an app-level token"),
        ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL: must be an http(s) URL"),
        ("PORT", "eighty", "PORT: Input should be a valid integer"),
        ("PORT", "70000", "PORT: Input should be less than or equal to 65535"),
        ("CHATOPS_LOG_LEVEL", "LOUD", "CHATOPS_LOG_LEVEL: must be one of"),
        ("CHATOPS_LOG_FORMAT", "xml", "CHATOPS_LOG_FORMAT: Input should be 'json' or 'text'"),
        ("CHATOPS_CHECK_HORIZON_DAYS", "0", "CHATOPS_CHECK_HORIZON_DAYS: Input should be greater"),
        ("CHATOPS_HANDOFF_REMINDER", "soon", "CHATOPS_HANDOFF_REMINDER: 'soon' is not a duration"),
        ("CHATOPS_COVERAGE_WATCH_CRON", "9am", "CHATOPS_COVERAGE_WATCH_CRON: '9am' is not a"),
        ("CHATOPS_COVERAGE_WATCH", "maybe", "CHATOPS_COVERAGE_WATCH: Input should be a valid bool"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "none.env")
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_a_malformed_env_file_names_the_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=xoxb-1\nthis is not an assignment\n")
    with pytest.raises(SettingsError, match=r"\.env: line 2 is not NAME=value"):
        load_settings(env)


def test_blank_tokens_count_as_unset(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=\nSLACK_APP_TOKEN=  \n")
    assert not load_settings(env).slack_enabled


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parent.parent / ".env.example").read_text()
    aliases = {f.alias for f in Settings.model_fields.values()}
    assert aliases == set(NAMES)
    for alias in aliases:
        assert f"{alias}=" in example, alias


def test_the_example_file_itself_loads_as_console_mode(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / ".env.example"
    settings = load_settings(example)
    assert settings.team is None
    assert not settings.slack_enabled


def test_work_process_settings_are_bounded_and_named(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("CHATOPS_WORK_PROCESSES=0\nCHATOPS_WORK_NICE=19\n")
    settings = load_settings(env)
    assert (settings.work_processes, settings.work_threads, settings.work_nice) == (0, 4, 19)
    env.write_text("CHATOPS_WORK_NICE=20\n")
    with pytest.raises(SettingsError, match=r"^CHATOPS_WORK_NICE: "):
        load_settings(env)


def test_the_oncall_group_is_a_user_group_id(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("CHATOPS_ONCALL_GROUP= S0TSONCALL \nCHATOPS_ONCALL_GROUP_LAYER=\n")
    settings = load_settings(env)
    assert (settings.oncall_group, settings.oncall_group_layer) == ("S0TSONCALL", None)
    env.write_text("CHATOPS_ONCALL_GROUP=@ts-oncall\n")
    with pytest.raises(SettingsError, match="CHATOPS_ONCALL_GROUP"):
        load_settings(env)
