"""The manifest creates the app this code serves: same command, path, events and no extra scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from chatops.slack.app import EVENTS_PATH, SLASH_COMMAND
from commands.forms import REPORT_FORM
from tests.support.fakeslack import GRANTED_SCOPES

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


def _manifest() -> dict[str, Any]:
    return dict(yaml.safe_load(MANIFEST.read_text(encoding="utf-8")))


def test_manifest_matches_what_the_app_listens_for() -> None:
    manifest = _manifest()
    (command,) = manifest["features"]["slash_commands"]
    settings = manifest["settings"]

    assert command["command"] == SLASH_COMMAND
    assert command["should_escape"] is True  # mentions arrive as <@U…>, which commands parse
    urls = [
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]
    assert all(url.endswith(EVENTS_PATH) for url in urls)
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_manifest_asks_only_for_the_scopes_the_bot_uses() -> None:
    assert _manifest()["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        # Looking up a page in doubt (chatops/outbox/indoubt.py): optional, see the README.
        "channels:history",
        "groups:history",
        "im:history",
        "files:write",  # charts uploaded to the asker (chatops/slack/files.py)
        # conversations.open: a DM's id, for a page's lookup and for the asker's charts
        "im:write",
        "usergroups:write",  # the @ts-oncall group (CHATOPS_ONCALL_GROUP)
    ]


def test_the_fake_slack_grants_what_the_manifest_asks_for() -> None:
    """Tests run as an app installed from the manifest, so serve() has nothing to warn about."""
    assert GRANTED_SCOPES.split(",") == _manifest()["oauth_config"]["scopes"]["bot"]


def test_manifest_has_the_message_shortcut_the_app_listens_for() -> None:
    (shortcut,) = _manifest()["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", REPORT_FORM)
    assert shortcut["name"] == "Report to Trust & Safety"
