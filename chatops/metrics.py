"""Every Prometheus metric of the bot, defined once, and the one-line calls that record them.

Services, the worker and the edges record through the functions below (never through the metric
objects), so a metric's name, labels and meaning live in this file only. `chatops.probes`
serves them on `/metrics`.

Work processes (`chatops.slack.offload`) are other interpreters: what they record would be lost
with their memory. Instead of Prometheus's multiprocess mode (a directory of memory-mapped files
that must exist before the first import, be wiped at each start and pruned of dead pids), a work
process keeps what it records in a buffer (`buffer_here`), sends it with each finished job's id
over the channel it already reports on (`drain`), and the serving process adds it to its own
metrics (`replay`). What a killed work process recorded for its unfinished jobs is lost with them;
the serving process counts those jobs as failed anyway.

Labels take values from small fixed sets only (registered verbs, outbox topics, Web API method
names): never user text, never an id.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import Counter, Histogram

#: A command's outcome: done, refused (a user's mistake or a rule, one line of reason) or our
#: own error (a correlation id was shown).
OK, REFUSED, ERROR = "ok", "refused", "error"

COMMANDS = Counter(
    "chatops_commands",
    "Commands, buttons and forms run, by verb (a registered name) and outcome.",
    ["verb", "outcome"],
)
ACK_SECONDS = Histogram(
    "chatops_ack_seconds",
    "Seconds from a Slack request's arrival to its answer (Slack gives up after 3).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
OUTBOX_SENT = Counter(
    "chatops_outbox_sent", "Outbox messages Slack accepted (ok), by topic.", ["topic"]
)
OUTBOX_FAILED = Counter(
    "chatops_outbox_failed",
    "Outbox sends that failed and will be retried (429s excluded), by topic.",
    ["topic"],
)
OUTBOX_IN_DOUBT = Counter(
    "chatops_outbox_in_doubt",
    "Outbox sends in doubt looked up in Slack before sending again (the answer was lost, or the "
    "worker died mid-send), by topic.",
    ["topic"],
)
OUTBOX_DEDUPLICATED = Counter(
    "chatops_outbox_deduplicated",
    "Outbox messages in doubt found already delivered, so not sent again, by topic.",
    ["topic"],
)
TIMER_LAG = Histogram(
    "chatops_timer_lag_seconds",
    "Seconds between a timer's due instant and its firing, by kind.",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
DELIVERY_LAG = Histogram(
    "chatops_outbox_delivery_lag_seconds",
    "Seconds from the instant an outbox message first fell due to Slack's ok, retries, rate "
    "limits and outages included, by topic: how late a page reached its responder.",
    ["topic"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
SLACK_RATE_LIMITED = Counter(
    "chatops_slack_rate_limited",
    "Answers 429 (rate limited) from the Slack Web API, by method.",
    ["method"],
)
REPLAYS_IGNORED = Counter(
    "chatops_slack_replays_ignored",
    "Requests answered without effect because they were already taken (Slack retries, replays).",
    ["kind"],
)

_BY_NAME: dict[str, Counter | Histogram] = {
    "commands": COMMANDS,
    "ack": ACK_SECONDS,
    "sent": OUTBOX_SENT,
    "failed": OUTBOX_FAILED,
    "in_doubt": OUTBOX_IN_DOUBT,
    "deduplicated": OUTBOX_DEDUPLICATED,
    "timer_lag": TIMER_LAG,
    "delivery_lag": DELIVERY_LAG,
    "rate_limited": SLACK_RATE_LIMITED,
    "replays": REPLAYS_IGNORED,
}

Recorded = list[tuple[str, tuple[str, ...], float]]
"""What a work process recorded: (metric, label values, amount) in order."""

_buffer: Recorded | None = None
_buffer_lock = threading.Lock()


def _record(name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
    with _buffer_lock:
        if _buffer is not None:
            _buffer.append((name, labels, amount))
            return
    _apply(name, labels, amount)


def _apply(name: str, labels: tuple[str, ...], amount: float) -> None:
    metric: Any = _BY_NAME[name]
    child = metric.labels(*labels) if labels else metric
    if isinstance(metric, Histogram):
        child.observe(amount)
    else:
        child.inc(amount)


def buffer_here() -> None:
    """From now on this process keeps what it records for `drain` (a work process's start)."""
    global _buffer
    with _buffer_lock:
        if _buffer is None:
            _buffer = []


def drain() -> Recorded:
    """What was recorded since the last drain (nothing unless `buffer_here` was called)."""
    global _buffer
    with _buffer_lock:
        if not _buffer:
            return []
        taken, _buffer = _buffer, []
    return taken


def replay(recorded: Recorded) -> None:
    """Add what another process recorded to this one's metrics; unknown names are skipped."""
    for name, labels, amount in recorded:
        if name in _BY_NAME:
            _apply(name, tuple(labels), float(amount))


# -- the one-line calls ---------------------------------------------------------------------


def command(verb: str, outcome: str) -> None:
    """A command, button or form ran: `verb` is a registered name, `outcome` OK/REFUSED/ERROR."""
    _record("commands", (verb, outcome))


def ack(seconds: float) -> None:
    _record("ack", (), max(seconds, 0.0))


def outbox_attempt(topic: str, ok: bool, retry_after: float | None) -> None:
    """One send's outcome: sent, or failed (a 429 is neither: Slack asked us to wait)."""
    if ok:
        outbox_sent(topic)
    elif retry_after is None:
        outbox_failed(topic)


def outbox_sent(topic: str) -> None:
    _record("sent", (topic,))


def outbox_failed(topic: str) -> None:
    _record("failed", (topic,))


def outbox_in_doubt(topic: str) -> None:
    _record("in_doubt", (topic,))


def outbox_deduplicated(topic: str) -> None:
    _record("deduplicated", (topic,))


def timer_lag(kind: str, seconds: float) -> None:
    """A timer fired `seconds` after it was due (`kind`: escalation, handoff)."""
    _record("timer_lag", (kind,), max(seconds, 0.0))


def delivery_lag(topic: str, seconds: float) -> None:
    """An outbox message reached Slack `seconds` after it first fell due."""
    _record("delivery_lag", (topic,), max(seconds, 0.0))


def rate_limited(method: str) -> None:
    _record("rate_limited", (method,))


def replay_ignored(kind: str) -> None:
    _record("replays", (kind,))
