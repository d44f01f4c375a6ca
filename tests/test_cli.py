"""The `chatops` CLI as an operator meets it: one-line errors with exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clirun import chatops


def _one_line_error(result: object) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    err = result.stderr.strip()  # type: ignore[attr-defined]
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_version_and_help(tmp_path: Path) -> None:
    assert chatops("--version", cwd=tmp_path).stdout.startswith("chatops 0.")
    for args in [("--help",), ("rota", "--help"), ("db", "--help"), ("console", "--help")]:
        result = chatops(*args, cwd=tmp_path)
        assert result.returncode == 0 and "usage: chatops" in result.stdout


def test_unknown_option_is_one_line(tmp_path: Path) -> None:
    err = _one_line_error(chatops("console", "--bogus", cwd=tmp_path))
    assert "unrecognized arguments: --bogus" in err


def test_unknown_database_kind_is_one_line(tmp_path: Path) -> None:
    result = chatops("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": "mysql://root@x/db"})
    assert "DATABASE_URL: unknown database kind 'mysql'" in _one_line_error(result)


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"}
    err = _one_line_error(chatops("db", "upgrade", cwd=tmp_path, env=env))
    assert err.startswith("chatops: database unreachable at postgresql+psycopg://")


def test_malformed_env_file_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///x.db\nnot an assignment\n")
    err = _one_line_error(chatops("db", "upgrade", cwd=tmp_path))
    assert ".env: line 2 is not NAME=value" in err
    assert not (tmp_path / "x.db").exists()


def test_console_refuses_a_database_without_schema(tmp_path: Path) -> None:
    err = _one_line_error(chatops("console", cwd=tmp_path))
    assert "not at the latest schema; run `chatops db upgrade`" in err


def test_console_without_team_points_to_demo(tmp_path: Path) -> None:
    assert chatops("db", "upgrade", cwd=tmp_path).returncode == 0
    err = _one_line_error(chatops("console", cwd=tmp_path))
    assert "holds no team yet" in err and "chatops demo" in err


@pytest.mark.parametrize("when", ["2027-03-01T00:00:00", "yesterday"])
def test_instants_must_be_aware_iso(tmp_path: Path, when: str) -> None:
    from tests.support.clirun import EXAMPLE

    err = _one_line_error(chatops("rota", "who", str(EXAMPLE), "--at", when, cwd=tmp_path))
    assert "--at:" in err


def test_serve_without_tokens_says_what_is_missing(tmp_path: Path) -> None:
    assert chatops("db", "upgrade", cwd=tmp_path).returncode == 0
    err = _one_line_error(chatops("serve", cwd=tmp_path))
    assert "SLACK_BOT_TOKEN" in err


def _demo_db(tmp_path: Path) -> None:
    assert chatops("db", "upgrade", cwd=tmp_path).returncode == 0
    assert chatops("demo", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("target", ["missing/dir/x.yaml", "."])
def test_export_to_an_unwritable_path_is_one_line(tmp_path: Path, target: str) -> None:
    _demo_db(tmp_path)
    err = _one_line_error(chatops("rota", "export", "-o", target, cwd=tmp_path))
    assert err.startswith(f"chatops: --output: cannot write '{target}'")


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`chatops rota shifts … | head -1`: the reader leaves early; no traceback."""
    import subprocess

    from tests.support.clirun import EXAMPLE, command, command_env

    args = ("rota", "shifts", str(EXAMPLE), "--from", "2027-01-01T00:00:00Z")
    proc = subprocess.Popen(
        command(*args, "--to", "2028-01-01T00:00:00Z"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=command_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does once it has its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in {0, 141}
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_demo_again_keeps_the_team_unless_replace(tmp_path: Path) -> None:
    """Issue #12 item 9: a second `chatops demo` silently replaced the rota and its overrides."""
    _demo_db(tmp_path)
    err = _one_line_error(chatops("demo", cwd=tmp_path))
    assert "already holds the demo team 'Trust & Safety'" in err and "--replace" in err
    replaced = chatops("demo", "--replace", cwd=tmp_path)
    assert replaced.returncode == 0 and "replaced in" in replaced.stdout


def test_demo_beside_another_team_is_refused_and_several_teams_are_named(
    tmp_path: Path,
) -> None:
    from tests.support.clirun import EXAMPLE

    assert chatops("db", "upgrade", cwd=tmp_path).returncode == 0
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE.read_text().replace("name: Trust & Safety", "name: Wiki Safety", 1))
    assert chatops("rota", "import", str(other), "--force", cwd=tmp_path).returncode == 0
    err = _one_line_error(chatops("demo", cwd=tmp_path))
    assert "already holds the team(s) 'Wiki Safety'" in err and "CHATOPS_TEAM" in err
    # `make run` on that database opens the console on the team it holds, demo not loaded.
    ran = chatops("run", cwd=tmp_path, stdin="/ts who\n")
    assert ran.returncode == 0 and "Wiki Safety" in ran.stdout, ran.stderr


def test_several_teams_are_named_with_chatops_team(tmp_path: Path) -> None:
    from tests.support.clirun import EXAMPLE

    _demo_db(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE.read_text().replace("name: Trust & Safety", "name: Wiki Safety", 1))
    assert chatops("rota", "import", str(other), "--force", cwd=tmp_path).returncode == 0
    err = _one_line_error(chatops("console", cwd=tmp_path))
    assert "several teams ('Trust & Safety', 'Wiki Safety')" in err and "CHATOPS_TEAM" in err
    ran = _one_line_error(chatops("run", cwd=tmp_path, stdin=":quit\n"))
    assert "several teams" in ran
