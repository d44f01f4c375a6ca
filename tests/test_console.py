"""The console driven through standard input as a subprocess, as `make run` drives it."""

from __future__ import annotations

from pathlib import Path

from tests.support.clirun import chatops


def test_run_without_tokens_migrates_loads_demo_and_answers_help(tmp_path: Path) -> None:
    result = chatops("run", cwd=tmp_path, stdin="/ts help\n:quit\n")
    assert result.returncode == 0, result.stderr
    assert "Welcome to the chatops console" in result.stdout
    assert "== /ts — Trust & Safety on-call ==" in result.stdout
    assert "`/ts who`" in result.stdout
    assert (tmp_path / "chatops.db").exists()
    assert "Traceback" not in result.stderr


def test_run_twice_keeps_the_existing_team(tmp_path: Path) -> None:
    assert chatops("run", cwd=tmp_path, stdin=":quit\n").returncode == 0
    second = chatops("run", cwd=tmp_path, stdin="/ts who\n")
    assert second.returncode == 0, second.stderr
    assert "On call now" in second.stdout


def _console(tmp_path: Path, script: str, *extra: str) -> str:
    assert chatops("db", "upgrade", cwd=tmp_path).returncode == 0
    assert chatops("demo", cwd=tmp_path).returncode == 0
    result = chatops("console", *extra, cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_who_is_shown_in_the_asking_members_zone(tmp_path: Path) -> None:
    out = _console(
        tmp_path,
        "/ts who\n:as Priya\n/ts who\n",
        "--as",
        "Lukas Becker",
        "--now",
        "2027-03-20T12:00:00Z",
    )
    first, second = out.split("(now acting as Priya Raman")
    assert "emea — @Lukas Becker until 2027-03-20 18:00 CET (UTC+01:00)" in first
    assert "emea — @Lukas Becker until 2027-03-20 22:30 IST (UTC+05:30)" in second


def test_mistakes_get_one_line_and_usage_and_the_console_goes_on(tmp_path: Path) -> None:
    out = _console(
        tmp_path, "/ts hlep\n/ts who at blah\n/ts help\n", "--now", "2027-03-20T12:00:00Z"
    )
    assert ":warning: unknown command `hlep` (did you mean `help`?)" in out
    assert "Usage: `/ts who [at <time>]`" in out
    assert "== /ts — Trust & Safety on-call ==" in out


def test_advance_moves_the_console_clock(tmp_path: Path) -> None:
    out = _console(
        tmp_path, ":now\n:advance 90m\n:now\n:advance soon\n", "--now", "2027-03-20T12:00:00Z"
    )
    assert "2027-03-20T12:00:00Z" in out
    assert "(clock now 2027-03-20T13:30:00Z)" in out
    assert "'soon' is not a duration like 15m" in out


def test_as_an_unknown_member_is_refused_in_one_line(tmp_path: Path) -> None:
    assert chatops("db", "upgrade", cwd=tmp_path).returncode == 0
    assert chatops("demo", cwd=tmp_path).returncode == 0
    result = chatops("console", "--as", "Nobody", cwd=tmp_path, stdin=":quit\n")
    assert result.returncode == 2
    assert "--as: no single member of Trust & Safety matches 'Nobody'" in result.stderr


def test_advance_fires_each_timer_at_its_own_time_in_order(tmp_path: Path) -> None:
    """Issue #12 item 10: a week's jump used to fire everything once, at its end."""
    out = _console(tmp_path, ":advance 1d\n", "--as", "Lukas", "--now", "2027-03-20T12:00:00Z")
    assert "posted late" not in out.lower()
    reminder = out.index("-- 2027-03-20 15:45 CET (UTC+01:00) --\n  to @Daniel Okafor")
    handoff = out.index("-- 2027-03-20 16:00 CET (UTC+01:00) --\n  to #ts-oncall")
    not_accepted = out.index("-- 2027-03-20 16:10 CET (UTC+01:00) --\n  to @Lukas Becker")
    assert reminder < handoff < not_accepted < out.index("(clock now 2027-03-21T12:00:00Z)")


def test_advance_reads_compound_durations(tmp_path: Path) -> None:
    out = _console(tmp_path, ":advance 1h45m\n:advance 2d3h\n", "--now", "2027-03-20T12:00:00Z")
    assert "(clock now 2027-03-20T13:45:00Z)" in out
    assert "(clock now 2027-03-22T16:45:00Z)" in out


def test_a_page_is_shown_at_once_after_the_command_that_sent_it(tmp_path: Path) -> None:
    out = _console(
        tmp_path,
        "/ts case open harassment sev3 Doxxing thread\n/ts who\n",
        "--as",
        "Lukas",
        "--now",
        "2027-03-20T12:00:00Z",
    )
    opened = out.index("Paged level 1: @Lukas Becker")
    page = out.index("  to @Lukas Becker\n:rotating_light: You are paged (level 1)")
    assert opened < page < out.index("On call now")


def test_demo_makes_a_new_database_and_advance_refuses_more_than_four_weeks(
    tmp_path: Path,
) -> None:
    loaded = chatops("demo", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    result = chatops(
        "console", "--now", "2027-03-20T12:00:00Z", cwd=tmp_path, stdin=":advance 99999999d\n:now\n"
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "advance at most 4w at a time" in result.stdout
    assert "2027-03-20T12:00:00Z" in result.stdout


def test_instants_beyond_any_rota_are_one_line_and_exit_2(tmp_path: Path) -> None:
    assert chatops("demo", cwd=tmp_path).returncode == 0
    for argv in (
        ("console", "--now", "9999-12-31T23:00:00Z"),
        ("rota", "who", "--at", "9999-12-31T23:59Z"),
        ("rota", "check", "--from", "0001-01-01T00:00Z"),
        ("report", "--from", "0001-01-01", "--to", "9999-12-31"),
    ):
        result = chatops(*argv, cwd=tmp_path, stdin=":quit\n")
        assert result.returncode == 2, (argv, result.stderr)
        assert "Traceback" not in result.stderr
        assert "outside 1970 to 2200" in result.stderr, (argv, result.stderr)
