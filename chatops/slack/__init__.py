"""The Slack adapter, the only package that speaks Slack.

`app` assembles the Bolt app, `listeners` holds the slow halves that answer, `client` the Web API
client, `http` and `socket_mode` the two transports, `serve` the long-running process, `offload`
the work processes, `home` the App Home tab and `render` the payload shapes.

Nothing below this package imports Slack: commands answer with transport-neutral `Reply` objects
and this package turns them into Slack requests.
"""

from chatops.slack.app import BotIdentity, build_web_client, create_app

__all__ = ["BotIdentity", "build_web_client", "create_app"]
