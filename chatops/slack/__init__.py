"""The Slack adapter: the Bolt app (`app`), its HTTP server (`http`) and payload shapes (`render`).

Nothing below this package imports Slack: commands answer with transport-neutral `Reply` objects
and this package turns them into Slack requests.
"""

from chatops.slack.app import BotIdentity, build_web_client, create_app

__all__ = ["BotIdentity", "build_web_client", "create_app"]
