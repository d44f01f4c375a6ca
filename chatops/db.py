"""One engine factory for SQLite and PostgreSQL, and the unit-of-work session scope.

SQLite gets WAL, foreign keys and a busy timeout, and every transaction that may write starts
with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way with "database is
locked". A read (`Database.reading`) starts a plain deferred transaction instead and is refused
any write: under WAL it takes no lock, so questions (`/ts who`) never queue behind each other or
behind a writer, nor wait out SQLite's busy backoff (docs/architecture.md, "Transactions").
PostgreSQL goes through psycopg 3 with pre-ping, so a replica survives a database restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from chatops.dburl import UrlShapeError, check_shape, redact, scrub
from chatops.errors import Refused

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: The execution option that marks a connection's transactions as reads (`Database.reading`).
_READING = "chatops_reading"


class DatabaseError(Exception):
    """The database cannot be used; the message is one line for the operator."""


def normalise_url(url: str) -> str:
    """Accept the URL spellings people paste (postgres://, postgresql://) and pick psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Build the process's one engine for `url` (sqlite:///FILE or postgresql://…).

    Every engine hides statement parameters from its errors and logs: a failed INSERT must not
    write a case's summary into a log line.
    """
    try:
        check_shape(url)
    except UrlShapeError as error:
        raise DatabaseError(f"DATABASE_URL: {error}") from None
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseError(f"DATABASE_URL: cannot parse {redact(url)}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _tune_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # a failed statement's error must not quote a case's text
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
        )
    raise DatabaseError(f"DATABASE_URL: unknown database kind {parsed.get_backend_name()!r}")


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # query_only belongs to the pooled DBAPI connection (its `info` outlives a checkout):
        # one that served a read is switched back before it writes.
        reading = bool(connection.get_execution_options().get(_READING))
        if connection.info.get(_READING, False) != reading:
            connection.exec_driver_sql(f"PRAGMA query_only={'ON' if reading else 'OFF'}")
            connection.info[_READING] = reading
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def describe(url: str) -> str:
    """The URL without its password, safe for a log line or an error message."""
    return redact(url)


def check_reachable(engine: Engine) -> None:
    """Raise `DatabaseError` with one line when the database cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        lines = str(error.orig or error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        for secret in (engine.url.password, engine.url.query.get("password")):
            reason = scrub(reason, secret if isinstance(secret, str) else None)
        where = redact(engine.url.render_as_string(hide_password=True))
        raise DatabaseError(f"database unreachable at {where}: {reason}") from None


class Database:
    """The engine plus the unit of work: one session per request or timer run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit everything done in the block, or nothing when it raises.

        A refusal that must still leave a trace (`Refused.keep`) gets it written in its own
        transaction after the rollback, so the refused change itself never lands.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except Refused as refusal:
                session.rollback()
                keep, refusal.keep = refusal.keep, None  # once, even through nested scopes
                if keep is not None:
                    with Session(self.engine, expire_on_commit=False) as kept:
                        keep(kept)
                        kept.commit()
                raise
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that only reads: one consistent snapshot, nothing committed.

        A write inside it is an error on both databases (SQLite's query_only, PostgreSQL's READ
        ONLY transaction), never a change silently rolled back.
        """
        options: dict[str, Any] = (
            {_READING: True}
            if self.engine.dialect.name == "sqlite"
            else {"postgresql_readonly": True}
        )
        # Closing the session ends its transaction (a rollback) and keeps what it loaded.
        with (
            self.engine.connect().execution_options(**options) as connection,
            Session(bind=connection) as session,
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def as_utc(value: datetime | str) -> datetime:
    """An instant read back from the database, aware and in UTC. Aggregates (`min(due_at)`)
    bypass the column type, so SQLite hands back naive UTC, or text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
