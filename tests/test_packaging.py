"""The wheel is the product: built from the tracked files alone and installed on its own, it must
run `chatops run` (the demo console) from an empty directory — migrations and demo team included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _tracked_copy(dest: Path) -> None:
    """Only what git tracks: a file the wheel needs but nobody committed must fail this test."""
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, names):
        source, target = REPO / name.decode(), dest / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)


def test_an_installed_wheel_runs_the_demo_console_from_an_empty_directory(tmp_path: Path) -> None:
    source, dist, site, empty = (tmp_path / d for d in ("src", "dist", "site", "empty"))
    _tracked_copy(source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("chatops-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    empty.mkdir()
    program = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import chatops;"
        "assert chatops.__file__.startswith(sys.argv[1]), chatops.__file__;"
        "from chatops.cli.main import main; sys.exit(main(['run']))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith(("CHATOPS_", "PYTHONPATH"))}
    done = subprocess.run(
        [sys.executable, "-c", program, str(site)],
        cwd=empty,
        input="/ts who\n:quit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Welcome to the chatops console" in done.stdout
    assert "on call" in done.stdout.lower()
    assert "Traceback" not in done.stderr
    assert (empty / "chatops.db").exists()
