"""Slack acknowledgement latency: how long Slack waits for the HTTP 200 of a `/ts` command.

Each side runs in its own process, as in production: the bot is the real `chatops serve` (HTTP
mode, example team on SQLite, no timer worker), the load comes from a client process of 50
threads sending signed slash commands over loopback, and the fake Slack Web API (recording the
answers sent to each `response_url`) runs in the bench process. Slack's side does not share the
bot's CPUs in production, so here the client process has a CPU of its own (the bot and the bare
app get the others) and the fake Web API runs at the lowest CPU priority. The baseline is a
bare Bolt app served the same way whose only listener acknowledges a no-op command (and then
answers it through `respond`), measured in the same run.
`chatops serve` acknowledges, then hands the work to its work processes (`CHATOPS_WORK_PROCESSES`,
default 2, at a lower CPU priority); the last row runs the work in threads of the serving
process instead (`CHATOPS_WORK_PROCESSES=0`), to show what that costs the acknowledgements.
Between scenarios the previous one's answers are awaited, so none bleeds into the next. One more
row drives `/ts who` from 200 clients, for "well under 3 s at any load" (no baseline there).
Target (not asserted): p99 ≤ 1.3 × the bare app's p99; Slack's own limit is 3 s.

Answer latency (issue #13) is what a person waits for: from the command sent to its reply
arriving at its `response_url`, for `/ts who` and `/ts case open` with 1, 10 and 50 people,
against the bare Bolt app answering the no-op through `respond` with as many, in the same run.
Each row also gives the CPU one command took on the bot's side (the served process and its work
processes, from /proc): one person meets no queue, so that row is the path's own latency; with
10 and 50 the bot's one CPU is busy all the time, and a person's wait grows with the CPU every
command ahead of theirs takes. A person
waits for the answer before typing the next command, so each of these clients does (the
acknowledgement rows above are the other case: a flood that sends again as soon as it is
acknowledged, whose answers queue behind it; "last answer … after the last ack" says how long
they took to drain). The answers are received by the client process, on its own CPU, with the
clock the command was sent by. Target (not asserted): p99 ≤ 1.5 × the bare app's.
Size: CHATOPS_BENCH_SLACK_REQUESTS commands per scenario (default 1,000).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cpu import process_tree_seconds
from bench.fake import TimedFakeSlack
from chatops.db import Database, make_engine
from chatops.schema.migrate import upgrade
from commands.registry import dispatch
from tests.support.fakeslack import RESPONSE_URL, FakeSlack
from tests.support.served import BOT_TOKEN, LUKAS, PRIYA, SECRET
from tests.support.teams import example_team_context

CLIENTS = 50
ANSWER_CLIENTS = 10  # answer latency is measured at this load and at CLIENTS
CASE_OPEN = "case open harassment sev3 Benchmark answer"
ANSWER_WAIT_S = 30.0  # a person gives up on an answer after this (Slack keeps it 30 minutes)
HEAVY_CLIENTS = 200  # "well under 3 s at any load": four times the load, once
REQUESTS = int(os.environ.get("CHATOPS_BENCH_SLACK_REQUESTS", "1000"))  # per scenario
TIME_LIMIT_S = 60.0  # per scenario: stop sending after this, report what was measured
DRAIN_LIMIT_S = 120.0
START_LIMIT_S = 30.0
FAKE_SLACK_NICE = 19  # Slack's servers are not on this machine: its stand-in yields the CPU
# Slack's load does not come from the bot's machine either: with two CPUs or more, the client
# process gets one to itself and everything else the rest, for the bare app and chatops alike.
_CPUS = sorted(os.sched_getaffinity(0))
_CLIENT_CPUS = {_CPUS[0]} if len(_CPUS) >= 2 else set()
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)  # seconds, answered with 200
    failed: int = 0  # refused or reset connections, timeouts, non-200 answers
    sent: dict[str, float] = field(default_factory=dict)  # response id → monotonic send instant


def _client_process(url: str, text: str, response_urls: list[str], clients: int, out: Any) -> None:
    """The load, in its own process as Slack is: `clients` threads, one timed request each."""
    from tests.support.slackhttp import post, slash_command

    if _CLIENT_CPUS:
        os.sched_setaffinity(0, _CLIENT_CPUS)
    load = Load()
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT_S

    def one(response_url: str) -> None:
        if time.monotonic() > deadline:
            return
        body, kind = slash_command(text, user_id=PRIYA, response_url=response_url)
        sent = time.monotonic()  # one clock for every process (Linux): the fake's too
        try:
            result = post(url, body, kind, SECRET, timeout=10)
        except OSError:
            with lock:
                load.failed += 1
            return
        with lock:
            if result.status == 200:
                load.latencies.append(result.elapsed)
                load.sent[response_url.rsplit("/", 1)[1]] = sent
            else:
                load.failed += 1

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, response_urls))
    out.put((load.latencies, load.failed, load.sent))


def _load(url: str, fake: FakeSlack, text: str, tag: str, clients: int = CLIENTS) -> Load:
    """REQUESTS commands from a client process; the acknowledgement latency of each."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    urls = [fake.response_url(f"{tag}-{i}") for i in range(REQUESTS)]
    process = ctx.Process(target=_client_process, args=(url, text, urls, clients, out))
    process.start()
    latencies, failed, sent = out.get(timeout=TIME_LIMIT_S + 60)
    process.join(timeout=10)
    return Load(latencies=latencies, failed=failed, sent=sent)


@dataclass
class Answers:
    latencies: list[float] = field(default_factory=list)  # seconds, command sent → answer in
    failed: int = 0  # not acknowledged with 200, or no answer within ANSWER_WAIT_S
    cpu_s: float = 0.0  # CPU seconds the server spent while these were asked and answered


def _people_process(url: str, text: str, tag: str, clients: int, requests: int, out: Any) -> None:
    """`clients` people, each typing a command, waiting for its answer, then typing the next.

    The answers come to a `response_url` served here, on the client's own CPU, as Slack's
    servers are not the bot's: the instant an answer arrives is read where the command was sent.
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.support.slackhttp import post, slash_command

    if _CLIENT_CPUS:
        os.sched_setaffinity(0, _CLIENT_CPUS)
    lock = threading.Lock()
    arrived: dict[str, float] = {}
    waiting: dict[str, threading.Event] = {}

    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps a client's connection open, as Slack's servers do
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            at = time.monotonic()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            rid = self.path.rsplit("/", 1)[1]
            with lock:
                arrived.setdefault(rid, at)
                event = waiting.get(rid)
            if event is not None:
                event.set()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answer_url = f"http://127.0.0.1:{server.server_address[1]}/answer/"
    result = Answers()
    deadline = time.monotonic() + TIME_LIMIT_S

    def person(first: int) -> None:
        for i in range(first, requests, clients):
            if time.monotonic() > deadline:
                return
            rid, event = f"{tag}-{i}", threading.Event()
            with lock:
                waiting[rid] = event
            body, kind = slash_command(text, user_id=PRIYA, response_url=answer_url + rid)
            sent = time.monotonic()
            try:
                acked = post(url, body, kind, SECRET, timeout=10).status == 200
            except OSError:
                acked = False
            if not acked or not event.wait(ANSWER_WAIT_S):
                with lock:
                    result.failed += 1
                continue
            with lock:
                result.latencies.append(arrived[rid] - sent)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(person, range(clients)))
    server.shutdown()
    out.put((result.latencies, result.failed))


def _people(url: str, text: str, tag: str, clients: int, server_pid: int) -> Answers:
    """REQUESTS commands from `clients` people who each wait for their answer, and the CPU
    seconds the server (`server_pid` and its children) spent meanwhile."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=_people_process, args=(url, text, tag, clients, REQUESTS, out))
    cpu_before = process_tree_seconds(server_pid)
    process.start()
    latencies, failed = out.get(timeout=TIME_LIMIT_S + ANSWER_WAIT_S + 60)
    cpu_s = process_tree_seconds(server_pid) - cpu_before
    process.join(timeout=10)
    return Answers(latencies=latencies, failed=failed, cpu_s=cpu_s)


def _answered(fake: FakeSlack, tag: str) -> int:
    prefix = f"{tag}-"
    return sum(
        1
        for c in fake.calls
        if c.method == RESPONSE_URL and (c.response_id or "").startswith(prefix)
    )


def _drain(fake: FakeSlack, tag: str, expected: int) -> float:
    """Wait (bounded) until every command of a scenario is answered; seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_LIMIT_S and _answered(fake, tag) < expected:
        time.sleep(0.05)
    return time.monotonic() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes] | mp.process.BaseProcess) -> None:
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url.replace("/slack/events", "/healthz"), timeout=1):
                return
        except OSError:
            alive = process.poll() is None if isinstance(process, subprocess.Popen) else True
            if not alive:
                raise RuntimeError("the served app exited at startup") from None
            time.sleep(0.1)
    raise RuntimeError(f"the served app did not answer on {url}")


class _ChatopsServe:
    """`chatops serve` in HTTP mode, exactly as an operator starts it, in its own process."""

    def __init__(self, db_url: str, api_url: str, work_processes: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url,
            "DATABASE_URL": db_url,
            "CHATOPS_RUN_WORKER": "false",
            "CHATOPS_LOG_LEVEL": "WARNING",
            "CHATOPS_WORK_PROCESSES": str(work_processes),
            "PORT": str(self.port),
        }
        env.pop("SLACK_APP_TOKEN", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatops", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        _wait_healthy(self.url, self.process)
        self.pid = self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _bare_process(port: int, api_url: str, stop: Any) -> None:
    """A Bolt app with nothing but an acknowledging `/ts` listener: the floor to compare to."""
    from slack_bolt import Ack, App, Respond
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk import WebClient

    from chatops.slack.http import SlackHttpServer

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=BOT_TOKEN, user_id=user_id
        )

    app = App(signing_secret=SECRET, authorize=authorize, client=WebClient(base_url=api_url))

    @app.command("/ts")
    def noop(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="ok")  # the floor for an answer: Bolt's own path to the response_url

    server = SlackHttpServer(app, host="127.0.0.1", port=port)
    server.start()
    stop.wait()
    server.stop()


class _BareServe:
    def __init__(self, api_url: str) -> None:
        ctx = mp.get_context("spawn")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.stop_event = ctx.Event()
        self.process = ctx.Process(target=_bare_process, args=(self.port, api_url, self.stop_event))
        self.process.start()
        _wait_healthy(self.url, self.process)
        assert self.process.pid is not None
        self.pid: int = self.process.pid

    def stop(self) -> None:
        self.stop_event.set()
        self.process.join(timeout=10)


def _prepare(db_url: str) -> str:
    """The example team and an open case to escalate, at the real current time; the case id."""
    db = Database(make_engine(db_url))
    upgrade(db.engine)
    now = datetime.now(UTC)
    example_team_context(db, PRIYA, now)
    reply = dispatch(
        "case open harassment sev3 Benchmark case", example_team_context(db, LUKAS, now)
    )
    db.dispose()
    found = re.search(r"TS-\d{4}-\d+", reply.text)
    if not found:
        raise RuntimeError(f"could not open the benchmark case: {reply.text}")
    return found.group(0)


def run() -> list[tuple[str, str]]:
    kept = os.sched_getaffinity(0)
    if _CLIENT_CPUS:  # the bot's side (and what it spawns) keeps off the client's CPU
        os.sched_setaffinity(0, kept - _CLIENT_CPUS)
    try:
        return _run()
    finally:
        os.sched_setaffinity(0, kept)


def _run() -> list[tuple[str, str]]:
    fake = TimedFakeSlack()
    fake.start()
    fake.lower_priority(FAKE_SLACK_NICE)
    rows: list[tuple[str, str]] = []
    servers: list[_ChatopsServe | _BareServe] = []
    with tempfile.TemporaryDirectory() as scratch:
        db_url = f"sqlite:///{scratch}/bench.db"
        try:
            case_key = _prepare(db_url)
            bare = _BareServe(fake.api_url)
            servers.append(bare)
            ours = _ChatopsServe(db_url, fake.api_url, work_processes=2)
            servers.append(ours)

            warm_bare = _load(bare.url, fake, "noop", "warm-bare")  # warm both paths up first
            _drain(fake, "warm-bare", len(warm_bare.latencies))
            warm = _load(ours.url, fake, "help", "warm")
            _drain(fake, "warm", len(warm.latencies))

            base = _load(bare.url, fake, "noop", "bare")
            _drain(fake, "bare", len(base.latencies))
            base_p99 = _pct(base.latencies, 0.99) if base.latencies else float("nan")
            rows.append(_row("bare Bolt no-op", base, base_p99))
            scenarios = [
                ("/ts who", "who"),
                ("/ts rota check", "rota check"),
                (f"/ts escalate {case_key}", f"escalate {case_key}"),
            ]
            for i, (label, text) in enumerate(scenarios):
                load = _load(ours.url, fake, text, f"s{i}")
                waited = _drain(fake, f"s{i}", len(load.latencies))
                rows.append(_row(label, load, base_p99, answered_after=waited))
            rows += _answers_at(bare, ours)
            heavy = _load(ours.url, fake, "who", "heavy", clients=HEAVY_CLIENTS)
            waited = _drain(fake, "heavy", len(heavy.latencies))
            rows.append(_row("/ts who", heavy, None, answered_after=waited, clients=HEAVY_CLIENTS))
            ours.stop()
            servers.remove(ours)

            inline = _ChatopsServe(db_url, fake.api_url, work_processes=0)
            servers.append(inline)
            warm = _load(inline.url, fake, "help", "warm-inline")
            _drain(fake, "warm-inline", len(warm.latencies))
            load = _load(inline.url, fake, "who", "inline")
            waited = _drain(fake, "inline", len(load.latencies))
            rows.append(
                _row("/ts who, work in the serving process", load, base_p99, answered_after=waited)
            )
        finally:
            for server in servers:
                server.stop()
            fake.stop()
    return rows


def _answer_row(
    label: str, answers: Answers, base: Answers | None, clients: int
) -> tuple[str, str]:
    measured = f"{label}: answer latency, {_people_count(clients)}"
    failed = f", {answers.failed} unanswered" if answers.failed else ""
    if not answers.latencies:
        return (measured, f"no answer recorded{failed}")
    p99 = _pct(answers.latencies, 0.99)
    ratio = (
        f", p99 {p99 / _pct(base.latencies, 0.99):.2f}× bare [target ≤ 1.5×]"
        if base is not None and base.latencies
        else ""
    )
    cpu = f"; CPU {answers.cpu_s / len(answers.latencies) * 1000:.2f} ms a command"
    return (
        measured,
        f"p50 {_pct(answers.latencies, 0.5) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms{ratio} "
        f"({len(answers.latencies)} answered{failed}{cpu})",
    )


def _people_count(clients: int) -> str:
    return "1 person" if clients == 1 else f"{clients} people"


def _answers_at(bare: _BareServe, ours: _ChatopsServe) -> list[tuple[str, str]]:
    """Answer latency with 1, ANSWER_CLIENTS and CLIENTS people: the bare app (answering through
    `respond`), then `/ts who` and `/ts case open`, each against the bare app at that load. The
    CPU a command took is the served process's, its work processes' included."""
    rows = []
    for clients in (1, ANSWER_CLIENTS, CLIENTS):
        base = _people(bare.url, "noop", f"p-bare-{clients}", clients, bare.pid)
        rows.append(_answer_row("bare Bolt no-op (respond)", base, None, clients))
        for label, text in (("/ts who", "who"), ("/ts case open", CASE_OPEN)):
            answers = _people(ours.url, text, f"p-{text[:4]}-{clients}", clients, ours.pid)
            rows.append(_answer_row(label, answers, base, clients))
    return rows


def _row(
    label: str,
    load: Load,
    base_p99: float | None,
    *,
    answered_after: float | None = None,
    clients: int = CLIENTS,
) -> tuple[str, str]:
    """One scenario's figures; `base_p99` None: no baseline at this load."""
    measured = f"{label}: ack latency, {clients} clients"
    failed = f", {load.failed} failed" if load.failed else ""
    if not load.latencies:
        return (measured, f"no request answered{failed}")
    p50, p99 = _pct(load.latencies, 0.5), _pct(load.latencies, 0.99)
    drained = (
        f"; last answer {answered_after:.1f} s after the last ack"
        if answered_after is not None
        else ""
    )
    ratio = f", p99 {p99 / base_p99:.2f}× bare" if base_p99 else ""
    return (
        measured,
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms{ratio} "
        f"({len(load.latencies)} answered{failed}; "
        f"mean {statistics.fmean(load.latencies) * 1000:.1f} ms{drained})",
    )


if __name__ == "__main__":
    for measured, figure in run():
        print(f"{measured}: {figure}")
