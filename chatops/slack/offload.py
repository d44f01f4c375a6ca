"""Where the slow half of a Slack request runs: in the serving process, or in work processes.

Bolt acknowledges first and hands the rest (database, rota, Web API) to a lazy listener. Run in
the serving process, those listeners share its interpreter lock with the acknowledgements, so a
burst of heavy commands (`rota check` proves weeks of coverage) delays every ack behind it.
`WorkProcesses` runs the slow halves in separate processes at a lower CPU priority instead: the
serving process only verifies, acknowledges and forwards, and acks win any contest for the CPU.

A work process that dies takes its unfinished jobs with it. Commands are not idempotent (a case
would open twice), so they are not run again: each of those askers is told, with the job's
reference, that the command may not have run, and a fresh process takes the next jobs.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any, Literal, Protocol

from chatops import metrics

log = logging.getLogger(__name__)

JobKind = Literal["command", "action", "form", "home"]
#: How long `close()` lets work processes finish what they hold before stopping them.
CLOSE_GRACE_S = 10.0
#: How often finished job ids are collected (a process's pipe holds thousands of them).
_COLLECT_S = 0.2


@dataclass(frozen=True)
class Job:
    """One slow half: the Slack payload it answers and the request's correlation id."""

    kind: JobKind
    payload: dict[str, Any]
    cid: str
    id: int = 0


class JobRunner(Protocol):
    """What runs a job: `_Listeners` in `chatops.slack.app`, in whichever process holds it."""

    def run_job(self, job: Job) -> None: ...

    def job_lost(self, job: Job) -> None: ...


class SlowHalves(Protocol):
    """Where the lazy listeners send their jobs."""

    def submit(self, job: Job) -> None: ...

    def close(self) -> None: ...


class InThread:
    """Run each job in the lazy listener's own thread (tests, the console's clock, small teams)."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    def submit(self, job: Job) -> None:
        self.runner.run_job(job)

    def close(self) -> None:
        return None


RunnerFactory = Callable[[], JobRunner]
"""Builds the job runner inside a work process (its own engine, Web API client, clock)."""


@dataclass
class _Slot:
    """One work process, its job queue, its channel of finished job ids, and what it holds."""

    process: BaseProcess
    jobs: Queue[Job | None]
    finished: Connection
    pending: dict[int, Job] = field(default_factory=dict)


class WorkProcesses:
    """Jobs spread over `processes` spawned processes, each running `threads` jobs at a time.

    `make_runner` must be picklable (a module-level function or a `functools.partial` of one):
    each process calls it once to build its runner. `fallback` runs in this process and answers
    for jobs lost with a dead work process. Each process reports finished jobs on its own pipe,
    so a process killed mid-write can corrupt nothing the others share.
    """

    def __init__(
        self,
        make_runner: RunnerFactory,
        *,
        fallback: JobRunner,
        processes: int,
        threads: int,
        nice: int,
    ) -> None:
        if processes < 1 or threads < 1:
            raise ValueError("work processes need at least one process and one thread")
        self._ctx = mp.get_context("spawn")
        self._make_runner = make_runner
        self._fallback = fallback
        self._threads = threads
        self._nice = nice
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._slots = [self._start_slot() for _ in range(processes)]
        self._supervisor = threading.Thread(target=self._supervise, name="work-watch", daemon=True)
        self._supervisor.start()

    def _start_slot(self) -> _Slot:
        jobs: Queue[Job | None] = self._ctx.Queue()
        finished, report = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_work_process,
            args=(self._make_runner, jobs, report, self._threads, self._nice),
            name="chatops-work",
            daemon=True,
        )
        process.start()
        report.close()  # the child holds the writing end; EOF here means it is gone
        return _Slot(process=process, jobs=jobs, finished=finished)

    def submit(self, job: Job) -> None:
        """Hand a job to the least busy work process; never waits, whatever the process does.

        The queue's own thread writes to the process, so a busy or stuck process can never
        block the serving process's listener threads (and with them the acknowledgements).
        """
        with self._lock:
            slot = min(self._slots, key=lambda s: len(s.pending))
            numbered = Job(kind=job.kind, payload=job.payload, cid=job.cid, id=next(self._ids))
            slot.pending[numbered.id] = numbered
            slot.jobs.put(numbered)

    def pending(self) -> int:
        """Jobs handed out and not yet finished."""
        with self._lock:
            return sum(len(slot.pending) for slot in self._slots)

    def pids(self) -> list[int | None]:
        with self._lock:
            return [slot.process.pid for slot in self._slots]

    def _supervise(self) -> None:
        """Replace a process that died and answer for what it held; collect finished job ids.

        It wakes for deaths only: finished ids are collected in bulk every `_COLLECT_S` (and
        before a dead process's jobs are counted), not one wake-up per job in the serving
        process, whose CPU belongs to the acknowledgements.
        """
        while not self._closing.is_set():
            with self._lock:
                slots = list(self._slots)
            sentinels = {slot.process.sentinel: slot for slot in slots}
            died = wait(list(sentinels), timeout=_COLLECT_S)
            for slot in slots:
                self._collect(slot)
            for sentinel in died:
                if isinstance(sentinel, int) and not self._closing.is_set():
                    self._replace(sentinels[sentinel])

    def _collect(self, slot: _Slot) -> None:
        try:
            while slot.finished.poll():
                job_id, recorded = slot.finished.recv()
                metrics.replay(recorded)  # what the work process counted (chatops.metrics)
                with self._lock:
                    slot.pending.pop(job_id, None)
        except (EOFError, OSError):
            return  # the process is gone; its sentinel says so

    def _replace(self, dead: _Slot) -> None:
        with self._lock:
            if dead not in self._slots:
                return
            lost = list(dead.pending.values())
            self._slots[self._slots.index(dead)] = self._start_slot()
        _discard(dead.jobs)
        dead.finished.close()
        log.error(
            "work process died; its jobs are answered as failed",
            extra={"exit_code": dead.process.exitcode, "lost_jobs": len(lost)},
        )
        for job in lost:
            try:
                self._fallback.job_lost(job)
            except Exception:
                log.exception("could not tell the asker about a lost job")

    def close(self) -> None:
        """Let every process finish the jobs it holds (up to a grace period), then stop it."""
        if self._closing.is_set():
            return  # closed already
        self._closing.set()
        self._supervisor.join(timeout=2)
        with self._lock:
            slots = list(self._slots)
        for slot in slots:
            slot.jobs.put(None)
        for slot in slots:
            slot.process.join(timeout=CLOSE_GRACE_S)
            if slot.process.is_alive():
                slot.process.terminate()
                slot.process.join(timeout=2)
            self._collect(slot)
            _discard(slot.jobs)
            slot.finished.close()
            if slot.pending:
                log.warning("work stopped with jobs unfinished", extra={"jobs": len(slot.pending)})


def _work_process(
    make_runner: RunnerFactory,
    jobs: Queue[Job | None],
    report: Connection,
    threads: int,
    nice: int,
) -> None:
    """A work process's main loop: run jobs on a small thread pool until told to stop."""
    # Ctrl-C reaches the whole process group; the serving process decides when work stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        try:
            os.nice(nice)
        except OSError:
            log.warning("could not lower the work process's CPU priority")
    metrics.buffer_here()
    runner = make_runner()
    reporting = threading.Lock()

    def run(job: Job) -> None:
        try:
            runner.run_job(job)
        except Exception:
            log.exception("job failed outside its handler", extra={"kind": job.kind})
        finally:
            with reporting:
                report.send((job.id, metrics.drain()))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="work") as pool:
        while (job := jobs.get()) is not None:
            pool.submit(run, job)
    report.close()


def _discard(jobs: Queue[Job | None]) -> None:
    """Drop a queue whose process is gone: what it still holds is answered for, not delivered.

    Without `cancel_join_thread` its thread could block this process's exit on a full pipe.
    """
    jobs.cancel_join_thread()
    jobs.close()
