"""Work processes: jobs run away from the acknowledgements, and none is lost without a word."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import select

from chatops.cases.models import Case
from chatops.clock import ManualClock
from chatops.db import Database
from chatops.slack.app import ServingApp, serving_app
from chatops.slack.http import SlackHttpServer
from chatops.slack.offload import Job, WorkProcesses
from commands.registry import dispatch
from rota.store import save_rota
from tests.support.fakeslack import RESPONSE_URL, FakeSlack, delayed
from tests.support.fakeslack import fake_slack as fake_slack  # the fixture
from tests.support.served import LUKAS, NOW, Served, example_rota, settings_for
from tests.support.teams import example_team_context
from tests.support.workjobs import file_runner

WAIT_S = 30.0  # a spawned process imports the app first: seconds, not milliseconds


class LostJobs:
    """The fallback runner: records the jobs it is told were lost."""

    def __init__(self) -> None:
        self.lost: list[Job] = []
        self._lock = threading.Lock()

    def run_job(self, job: Job) -> None:
        raise AssertionError("the fallback only answers for lost jobs")

    def job_lost(self, job: Job) -> None:
        with self._lock:
            self.lost.append(job)


def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_S}s for {what}")
        time.sleep(0.02)


def done(folder: Path) -> dict[int, dict[str, object]]:
    """Finished jobs by id, as the work processes recorded them."""
    finished: dict[int, dict[str, object]] = {}
    for path in folder.glob("done-*.json"):
        try:
            finished[int(path.stem.removeprefix("done-"))] = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue  # being written right now
    return finished


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., tuple[WorkProcesses, LostJobs]]]:
    pools: list[WorkProcesses] = []

    def start_(
        processes: int = 1, threads: int = 2, nice: int = 0
    ) -> tuple[WorkProcesses, LostJobs]:
        lost = LostJobs()
        pool = WorkProcesses(
            partial(file_runner, str(tmp_path)),
            fallback=lost,
            processes=processes,
            threads=threads,
            nice=nice,
        )
        pools.append(pool)
        return pool, lost

    yield start_
    for pool in pools:
        pool.close()


def test_jobs_run_in_other_processes_at_a_lower_cpu_priority(
    start: Callable[..., tuple[WorkProcesses, LostJobs]], tmp_path: Path
) -> None:
    pool, lost = start(processes=2, nice=5)
    for n in range(6):
        pool.submit(Job("command", {"n": n}, cid=f"cid-{n}"))
    until(lambda: len(done(tmp_path)) == 6, "six jobs")
    finished = done(tmp_path).values()
    assert sorted(f["payload"]["n"] for f in finished) == list(range(6))  # type: ignore[index]
    assert {f["cid"] for f in finished} == {f"cid-{n}" for n in range(6)}
    pids = {f["pid"] for f in finished}
    assert os.getpid() not in pids and pids <= set(pool.pids())
    assert {f["nice"] for f in finished} == {min(os.nice(0) + 5, 19)}
    until(lambda: pool.pending() == 0, "the finished jobs to be collected")
    assert lost.lost == []


def test_a_killed_work_process_is_replaced_and_only_its_unfinished_jobs_are_reported(
    start: Callable[..., tuple[WorkProcesses, LostJobs]], tmp_path: Path
) -> None:
    pool, lost = start(processes=1, threads=2)
    pool.submit(Job("command", {"n": "before"}, cid="cid-before"))
    until(lambda: len(done(tmp_path)) == 1, "the first job")
    pool.submit(Job("command", {"hang": 60}, cid="cid-hung"))
    pool.submit(Job("action", {"hang": 60}, cid="cid-hung-too"))
    until(lambda: len(list(tmp_path.glob("started-*"))) == 2, "both hanging jobs to start")
    [victim] = pool.pids()
    assert victim is not None
    os.kill(victim, signal.SIGKILL)

    until(lambda: len(lost.lost) == 2, "the lost jobs to be reported")
    assert sorted(j.cid for j in lost.lost) == ["cid-hung", "cid-hung-too"]
    assert {j.kind for j in lost.lost} == {"command", "action"}
    until(lambda: pool.pids() != [victim], "a new work process")

    pool.submit(Job("command", {"n": "after"}, cid="cid-after"))
    until(lambda: len(done(tmp_path)) == 2, "a job on the new process")
    after = next(f for f in done(tmp_path).values() if f["cid"] == "cid-after")
    assert after["pid"] not in (victim, os.getpid())
    assert len(lost.lost) == 2  # the job that finished before the crash was never reported


def test_a_stalled_work_process_never_holds_up_the_submitter(
    start: Callable[..., tuple[WorkProcesses, LostJobs]], tmp_path: Path
) -> None:
    """Submitting happens in the listener threads that acknowledge Slack: it must never block."""
    pool, lost = start(processes=1, threads=2)
    pool.submit(Job("command", {"n": -1}, cid="warm"))
    until(lambda: len(done(tmp_path)) == 1, "the process to start")
    [pid] = pool.pids()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # it reads nothing now: its pipe fills after a few jobs
    try:
        padding = "x" * 8_000
        started = time.monotonic()
        for n in range(100):  # 800 kB, far more than a pipe holds
            pool.submit(Job("command", {"n": n, "padding": padding}, cid=f"cid-{n}"))
        assert time.monotonic() - started < 1.0
    finally:
        os.kill(pid, signal.SIGCONT)
    until(lambda: len(done(tmp_path)) == 101, "every job, once the process runs again")
    assert lost.lost == []


def test_close_lets_held_jobs_finish(
    start: Callable[..., tuple[WorkProcesses, LostJobs]], tmp_path: Path
) -> None:
    pool, lost = start(processes=1, threads=1)
    pool.submit(Job("command", {"hang": 0.3, "n": 1}, cid="slow"))
    pool.submit(Job("command", {"n": 2}, cid="queued behind it"))
    pool.close()
    assert {f["cid"] for f in done(tmp_path).values()} == {"slow", "queued behind it"}
    assert lost.lost == []


def test_refuses_an_empty_pool() -> None:
    with pytest.raises(ValueError, match="at least one process"):
        WorkProcesses(
            partial(file_runner, "."), fallback=LostJobs(), processes=0, threads=1, nice=0
        )


# -- the served app with work processes, end to end over signed HTTP --


@pytest.fixture
def served_with_work(
    fake_slack: FakeSlack,
) -> Iterator[Callable[[Database, str], tuple[Served, WorkProcesses]]]:
    running: list[tuple[SlackHttpServer, ServingApp]] = []

    def start(db: Database, database_url: str) -> tuple[Served, WorkProcesses]:
        with db.transaction() as session:
            save_rota(session, example_rota())
        settings = settings_for(fake_slack, database_url=database_url, work_processes=1)
        app = serving_app(settings, db)
        assert isinstance(app.work, WorkProcesses)
        server = SlackHttpServer(app.app, host="127.0.0.1", port=0)
        server.start()
        running.append((server, app))
        served = Served(url=server.url, fake=fake_slack, db=db, clock=ManualClock(NOW))
        return served, app.work

    yield start
    for server, app in running:
        server.stop()
        app.close()


def test_commands_run_in_a_work_process_on_each_database(
    db: Database,
    database_url: str,
    served_with_work: Callable[[Database, str], tuple[Served, WorkProcesses]],
) -> None:
    served, work = served_with_work(db, database_url)

    acked = served.command("case open harassment sev3 Threats in a talk page", user=LUKAS)
    assert acked.status == 200 and acked.elapsed < 1.0
    answer = served.answer(timeout=WAIT_S)["text"]
    key = re.search(r"TS-\d{4}-\d{4}", answer)
    assert key is not None, answer
    # The work process wrote to the same database this process reads.
    with db.transaction() as session:
        [case] = session.exec(select(Case).where(Case.key == key.group(0))).all()
    assert case.summary == "Threats in a talk page" and case.reporter == LUKAS
    # The same handler answers as in this process: a refusal, word for word.
    served.command("case show TS-1999-0001", user=LUKAS, rid="refused")
    ctx = example_team_context(db, LUKAS, NOW)
    assert served.answer("refused", timeout=WAIT_S)["text"] == (
        dispatch("case show TS-1999-0001", ctx).text
    )
    assert os.getpid() not in work.pids()


def test_an_asker_whose_work_process_died_is_told_and_the_next_command_works(
    sqlite_db: Database,
    sqlite_url: str,
    served_with_work: Callable[[Database, str], tuple[Served, WorkProcesses]],
) -> None:
    served, work = served_with_work(sqlite_db, sqlite_url)
    # The answer to the asker hangs in Slack, so the job is still held when its process dies.
    served.fake.script(RESPONSE_URL, delayed(60))

    served.command("case open harassment sev3 Stuck answer", user=LUKAS, rid="stuck")
    served.answer("stuck", timeout=WAIT_S)  # sent, and not yet answered by Slack
    [victim] = work.pids()
    assert victim is not None
    os.kill(victim, signal.SIGKILL)

    told = served.answer("stuck", count=2, timeout=WAIT_S)
    assert "may or may not have taken effect" in told["text"]
    assert re.search(r"reference `[0-9a-f-]+`", told["text"])
    assert told["response_type"] == "ephemeral" and told["replace_original"] is False

    served.command("help ack", user=LUKAS, rid="after")
    assert "/ts ack" in served.answer("after", timeout=WAIT_S)["text"]
    assert work.pids() != [victim]


#: One line per verb family, each with what its answer must say when run in a work process.
#: `{key}` is the case the first line opens.
VERB_FAMILIES = [
    ("case open harassment sev3 Threats in a talk page", r"Opened \*TS-\d{4}-\d{4}"),
    ("help", r"/ts commands"),
    ("who", r"On call now"),
    ("shifts", r"shift\(s\) in the next 7 days"),
    ("policy", r"\(built-in\)"),
    ("rota check", r"Covered|gap"),
    ("case show {key}", r"{key}"),
    ("escalate {key} level 2 need a second pair of eyes", r"Escalated {key}"),
    ("ack {key}", r"acknowledged {key}"),
    ("handoff note watch the talk page", r"note will be in|no handoff"),
    ("swap request tomorrow 08:00 to tomorrow 18:00 dentist", r"swap request|no shift"),
    ("case resolve {key} done", r"{key} is resolved"),
]


def test_every_verb_family_runs_in_the_production_default_work_processes(
    sqlite_db: Database,
    sqlite_url: str,
    served_with_work: Callable[[Database, str], tuple[Served, WorkProcesses]],
) -> None:
    """The production default (work processes, the system clock) answers every verb family."""
    served, work = served_with_work(sqlite_db, sqlite_url)
    key = ""
    for n, (line, expected) in enumerate(VERB_FAMILIES):
        rid = f"family-{n}"
        acked = served.command(line.replace("{key}", key), user=LUKAS, rid=rid)
        assert acked.status == 200 and acked.elapsed < 1.0, line
        text = served.answer(rid, timeout=WAIT_S)["text"]
        assert "Something went wrong" not in text, (line, text)
        assert re.search(expected.replace("{key}", re.escape(key)), text), (line, text)
        if not key:
            found = re.search(r"TS-\d{4}-\d{4}", text)
            assert found is not None
            key = found.group(0)
    assert os.getpid() not in work.pids()
