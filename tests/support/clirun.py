"""Running `chatops` as a user does: a real subprocess, in a scratch directory, with its env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "follow-the-sun.yaml"
_SETTINGS = ("SLACK_", "DATABASE_URL", "CHATOPS_", "PORT")


def chatops(
    *args: str,
    cwd: Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m chatops ARGS` with only the settings given in `env`."""
    return subprocess.run(
        command(*args),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=command_env(env),
        timeout=timeout,
        check=False,
    )


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "chatops", *args]


def command_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without our settings, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS)}
    # This checkout's code, not whichever one the environment has installed (as pytest's own
    # `pythonpath` does for in-process tests).
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), clean.get("PYTHONPATH")]))
    clean.update(env or {})
    return clean
