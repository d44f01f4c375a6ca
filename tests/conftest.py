"""Shared fixtures: a migrated database on SQLite always and on PostgreSQL when reachable.

PostgreSQL tests are skipped when no server answers, except under CI=true, where an unreachable
PostgreSQL fails the run: CI must prove the multi-replica path, not quietly skip it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from chatops.db import Database, make_engine, normalise_url
from chatops.schema.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "CHATOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _postgres_error() -> str | None:
    try:
        engine = create_engine(normalise_url(POSTGRES_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure means "not reachable" for this purpose
        return str(error).splitlines()[0]


_PG_ERROR = _postgres_error()


def require_postgres() -> None:
    if _PG_ERROR is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true but PostgreSQL at {POSTGRES_URL} is unreachable: {_PG_ERROR}")
    pytest.skip(f"PostgreSQL unreachable: {_PG_ERROR}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    require_postgres()
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"chatops_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(POSTGRES_URL)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'chatops.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per database kind."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database of each kind."""
    database = Database(make_engine(database_url))
    upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    database = Database(make_engine(sqlite_url))
    upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def _no_log_handler_left_behind() -> Iterator[None]:
    """A test that ran the CLI in-process configured the root logger; the next test starts
    without that handler, as a fresh process would."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_chatops", False):
            root.removeHandler(handler)
