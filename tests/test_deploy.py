"""What can be checked of the deployment files without Docker or systemd (#13): every path the
Dockerfile copies exists and is not ignored, the compose file parses and runs real commands with
real settings, the systemd units start real commands, and docs/deploy.md names only commands and
settings that exist."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatops.cli.main import build_parser
from chatops.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ALIASES = {f.alias for f in Settings.model_fields.values() if f.alias}
SETTING = re.compile(r"\b(?:CHATOPS_[A-Z_]+|SLACK_[A-Z_]+_(?:TOKEN|SECRET|URL)|DATABASE_URL)\b")


def parses(argv: list[str]) -> bool:
    """Whether `chatops ARGV` is a command the CLI accepts (a handler, not a usage error)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        return False
    return hasattr(args, "func")


def instructions(path: Path) -> list[tuple[str, str]]:
    """A Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), arguments
    return [str(v) for v in value]


# -- Dockerfile ---------------------------------------------------------------------------


def test_every_path_the_dockerfile_copies_exists_and_reaches_the_build() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for keyword, rest in instructions(ROOT / "Dockerfile"):
        if keyword != "COPY" or rest.startswith("--from"):
            continue
        *sources, _target = rest.split()
        copied += sources
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    # What setuptools packages (pyproject.toml) is all there: the packages and the readme.
    for package in ("chatops", "commands", "rota", "pyproject.toml", "README.md"):
        assert package in copied, package


def test_the_copied_paths_alone_build_the_package(tmp_path: Path) -> None:
    """What `pip install .` sees in the image: the tracked files under the copied paths only."""
    sources = [
        part
        for keyword, rest in instructions(ROOT / "Dockerfile")
        if keyword == "COPY" and not rest.startswith("--from")
        for part in rest.split()[:-1]
    ]
    assert sources
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", *sources], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    context = tmp_path / "context"
    for name in filter(None, (n.decode() for n in tracked)):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(context)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("chatops-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "chatops/cli/main.py" in names and "chatops/demo/follow-the-sun.yaml" in names
    migrations = sorted(n for n in names if n.startswith("chatops/schema/migrations/versions/"))
    assert len(migrations) == len(list((ROOT / "chatops/schema/migrations/versions").glob("*.py")))


def test_the_image_runs_chatops_as_a_non_root_user_with_a_readiness_healthcheck() -> None:
    steps = instructions(ROOT / "Dockerfile")
    images = [rest.split()[0] for keyword, rest in steps if keyword == "FROM"]
    assert images and all(image == "python:3.11-slim" for image in images)
    user = [rest for keyword, rest in steps if keyword == "USER"]
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    (entrypoint,) = [exec_form(rest) for keyword, rest in steps if keyword == "ENTRYPOINT"]
    (command,) = [exec_form(rest) for keyword, rest in steps if keyword == "CMD"]
    assert entrypoint == ["chatops"] and parses(command)
    assert command == ["serve"]
    (check,) = [rest for keyword, rest in steps if keyword == "HEALTHCHECK"]
    probe = exec_form(check.split(" CMD ", 1)[1])
    assert probe[:2] == ["python", "-c"] and "/readyz" in probe[2]
    compile(probe[2], "<healthcheck>", "exec")  # the probe is valid Python
    # `db upgrade` is its own invocation of the same entrypoint.
    assert parses(["db", "upgrade"])
    # The image's own settings are real settings.
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert set(SETTING.findall(env)) <= ALIASES


# -- compose.yaml -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def chatops_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: s for name, s in compose["services"].items() if s.get("image") == "chatops:latest"
    }


def test_compose_runs_a_migration_two_http_replicas_and_a_worker(compose: dict[str, Any]) -> None:
    services = chatops_services(compose)
    assert compose["services"]["db"]["image"].startswith("postgres:")
    commands = {name: s["command"] for name, s in services.items()}
    for name, argv in commands.items():
        assert parses(argv), (name, argv)
    assert commands["migrate"] == ["db", "upgrade"]
    replicas = [n for n, argv in commands.items() if argv[0] == "serve"]
    workers = [n for n, argv in commands.items() if argv[0] == "worker"]
    assert len(replicas) == 2 and len(workers) == 1
    for name in replicas:
        assert "--no-worker" in commands[name]
        assert services[name]["environment"]["CHATOPS_RUN_WORKER"] == "false"
    for name, service in services.items():
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == (
                "service_completed_successfully"
            )
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    build = services["migrate"]["build"]
    assert (ROOT / build / "Dockerfile").is_file()


def test_compose_settings_are_real_and_valid(compose: dict[str, Any]) -> None:
    for name, service in chatops_services(compose).items():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert set(env) <= ALIASES, (name, set(env) - ALIASES)
        settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
        assert settings.database_url.startswith("postgresql://")
        if service["command"][0] == "worker":
            assert settings.metrics_port is not None
            assert str(settings.metrics_port) in [str(p) for p in service["expose"]]


# -- systemd ------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", sorted((ROOT / "deploy").glob("*.service")), ids=lambda p: p.name)
def test_systemd_units_start_real_commands(unit: Path) -> None:
    lines = [line.strip() for line in unit.read_text().splitlines()]
    starts = [line.split("=", 1)[1] for line in lines if line.startswith("ExecStart=")]
    assert len(starts) == 1
    program, *argv = shlex.split(starts[0])
    assert Path(program).name == "chatops" and Path(program).is_absolute()
    assert parses(argv), argv
    assert "[Install]" in lines and "KillSignal=SIGTERM" in lines
    assert any(line.startswith("User=") and line != "User=root" for line in lines)
    for line in lines:
        if line.startswith("Environment="):
            name = line.split("=", 2)[1]
            assert name in ALIASES, name


# -- docs ---------------------------------------------------------------------------------


def test_docs_name_only_commands_and_settings_that_exist() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    named = re.findall(r"`(?:[^`\s]*/)?chatops ([^`]+)`", text)
    assert len(named) >= 5
    for command in named:
        argv = [("9100" if word == "PORT" else word) for word in shlex.split(command)]
        assert parses(argv), command
    assert set(SETTING.findall(text)) <= ALIASES, set(SETTING.findall(text)) - ALIASES
    for path in re.findall(r"\]\(\.\./([^)]+)\)", text):
        assert (ROOT / path).exists(), path
    readme = (ROOT / "README.md").read_text()
    assert "docs/deploy.md" in readme
