"""Job runners for the work-process tests: built inside spawned processes, so they live here.

Each job leaves a file behind (what it saw, which process ran it, at which CPU priority), so the
test reads the outcome from disk instead of sharing memory with the process.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from chatops.slack.offload import Job


class FileRunner:
    """Writes `done-<id>.json` per job; a job with `hang` first writes `started-<id>` and waits."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def run_job(self, job: Job) -> None:
        if job.payload.get("hang"):
            (self.folder / f"started-{job.id}").write_text(str(os.getpid()))
            time.sleep(float(job.payload["hang"]))
        seen = {"pid": os.getpid(), "nice": os.nice(0), "payload": job.payload, "cid": job.cid}
        (self.folder / f"done-{job.id}.json").write_text(json.dumps(seen))

    def job_lost(self, job: Job) -> None:
        raise AssertionError("a work process never answers for lost jobs itself")


def file_runner(folder: str) -> FileRunner:
    return FileRunner(folder)
