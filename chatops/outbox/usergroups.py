"""`usergroups.users.update`: set a Slack user group's members (the @ts-oncall group).

Its own small module so the message delivery code stays untouched: the call goes through the
worker's `SlackNotifier` client (one kept connection, the proxy settings, the same answer
rules: only HTTP 200 with `ok: true` counts).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from chatops.outbox.notifier import Outcome, SlackNotifier, _json, _outcome


class SlackGroups:
    """Writes user groups through a notifier's Web API client."""

    def __init__(self, notifier: SlackNotifier) -> None:
        self.notifier = notifier

    def set_members(self, *, group: str, users: Sequence[str]) -> Outcome:
        form = {"usergroup": group, "users": ",".join(users)}
        try:
            response = self.notifier.client.post("usergroups.users.update", data=form)
        except httpx.HTTPError as error:
            return Outcome(ok=False, error=type(error).__name__)
        return _outcome(response.status_code, response.headers, _json(response.content))
