"""DATABASE_URL's password never reaches an operator message, whatever the URL's shape
(issue #11, finding 7): one line, exit 2, no traceback, no part of the password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from chatops.dburl import redact
from tests.support.clirun import chatops

SHAPES = [
    "postgresql:/bob:PWSECRET@host/db",  # one slash: not a URL SQLAlchemy reads
    "postgresql://bob:PW@SECRET@127.0.0.1:1/db",  # an unencoded @ in the password
    "postgresql://bob:PWSECRET@host:abc/db",  # a bad port
    "postgresql://bob:PWSECRET@host:99999/db",  # a port out of range
    "postgresql://bob:PWSECRET@[::1/db",  # an IPv6 host without its ]
    "postgresql://bob:PWSECRET@127.0.0.1:1/db",  # well formed, nobody listening
    "postgresql://bob@127.0.0.1:1/db?password=PWSECRET",  # the password as a parameter
    "postgres://bob:PW/SECRET@127.0.0.1:1/db",  # a / in the password
    "PWSECRET",  # the password pasted alone
]


@pytest.mark.parametrize("url", SHAPES)
def test_the_cli_names_the_problem_in_one_line_without_the_password(
    tmp_path: Path, url: str
) -> None:
    result = chatops("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": url}, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chatops: ")
    for piece in ("PWSECRET", "SECRET", "PW/", "PW@"):
        assert piece not in result.stderr + result.stdout, result.stderr


def test_a_percent_encoded_password_still_works_and_is_hidden(
    tmp_path: Path, postgres_url: str
) -> None:
    # `%` in the URL once made Alembic's config raise a traceback quoting the whole URL.
    plain = make_url(postgres_url).set(password="PW@SECRET").render_as_string(hide_password=False)
    assert "PW%40SECRET" in plain
    result = chatops("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": plain}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "SECRET" not in result.stderr + result.stdout
    assert "postgres:***@" in result.stdout


@pytest.mark.parametrize("url", SHAPES)
def test_redact_never_shows_the_password(url: str) -> None:
    shown = redact(url)
    assert "SECRET" not in shown
