"""The one owner of the engine and the session lifecycle.

A request (or a CLI command) gets one session from `get_session()`; it is closed on
teardown. Domain functions take a session and never open, commit or close one: the view
or command commits once at its boundary.

Two databases are supported: SQLite (one machine, the default) and PostgreSQL through
psycopg 3 (several app servers). Nothing here touches the database at start-up, so an app
server whose database is down still starts and answers 503 instead of crash-looping.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    String,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are reproducible on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit keys on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Fail fast when PostgreSQL is unreachable: a visitor gets the 503 page in seconds, not
# after the operating system's TCP timeout.
PG_CONNECT_TIMEOUT = 5


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is aware UTC on the way in and out, on both databases.

    SQLite has no zone type: it stores wall-clock text and returns naive values, while
    PostgreSQL returns aware ones in the session's zone. Without this, a comparison with
    `datetime.now(UTC)` fails on one database only and a +07:00 value lands 7 h off in SQLite.
    Naive values are refused rather than guessed. The column DDL is DateTime(timezone=True).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use an aware value, e.g. datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class unindexed(FunctionElement):  # noqa: N801  (a SQL expression, named like a function)
    """A column the planner must not look up in an index (SQLite's unary +), only filter on: so an
    index whose order matches a GROUP BY can stream the groups instead of sorting them (or, for
    the microdata, the primary key can be walked in id order). It keeps the column's type, so
    values compared with it are bound as the column's (a date as the stored UTC text)."""

    type = String()
    inherit_cache = True

    def __init__(self, column) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine with the per-dialect settings the app relies on."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "do_connect", _private_sqlite_file)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre_ping replaces connections a database restart or failover has broken.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_timeout", 10)
    connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT, "application_name": "sipas"}
    return create_engine(parsed, connect_args=connect_args, **kwargs)


def _private_sqlite_file(dialect: Any, _record: Any, cargs: tuple[Any, ...], _cparams: dict[str, Any]) -> None:
    """Before SQLite opens the file: create it 0600 if it does not exist yet (it holds every
    response and the registry), and take group/other access away from one an older version made.
    SQLite gives its -wal, -shm and -journal files the database file's mode."""
    name = str(cargs[0]) if cargs else ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    except OSError:
        return  # a missing folder or a read-only place: SQLite itself says what is wrong
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if part.stat().st_mode & 0o077:
                part.chmod(0o600)
        except OSError:
            pass  # not there, or not ours: nothing to tighten


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (reports) run while the form writes; synchronous=FULL makes an
    # acknowledged commit survive a crash or power cut; busy_timeout queues writers
    # instead of failing them under load.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class DatabaseUrlError(RuntimeError):
    """SURVEY_DATABASE_URL set but empty or not a URL: said at start-up in words, not as a traceback
    from deep inside SQLAlchemy (the URL is not echoed: it may hold a password)."""


def _configured_engine(setting: str, url: object, **pool: Any) -> Engine:
    if not url:
        raise DatabaseUrlError(f"SURVEY_{setting} is set but empty: unset it to use instance/survey.sqlite3, or give "
                               "a URL such as postgresql://user:password@host/sipas")
    try:
        return make_engine(str(url), **pool)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUrlError(f"SURVEY_{setting} is not a database URL: write it as sqlite:////absolute/path/survey.sqlite3 "
                               "or postgresql://user:password@host/sipas") from None


def init_app(app: Flask) -> None:
    pool: dict[str, Any] = {}
    if app.config.get("DATABASE_POOL_SIZE"):
        pool["pool_size"] = int(app.config["DATABASE_POOL_SIZE"])
    engine = _configured_engine("DATABASE_URL", app.config["DATABASE_URL"], **pool)
    replica_url = app.config.get("REPORTS_DATABASE_URL")
    reports = _configured_engine("REPORTS_DATABASE_URL", replica_url, **pool) if replica_url else engine
    app.extensions["survey_db"] = {
        "engine": engine,
        "sessionmaker": sessionmaker(engine, expire_on_commit=False),
        "report_sessionmaker": sessionmaker(reports, expire_on_commit=False),
    }
    app.teardown_appcontext(close_session)


def engine() -> Engine:
    return current_app.extensions["survey_db"]["engine"]


def get_session() -> Session:
    """The session of the current request or CLI command, created on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["survey_db"]["sessionmaker"]()
    return g.db_session


def get_report_session() -> Session:
    """A read-only session for reports and exports: on the read replica when
    SURVEY_REPORTS_DATABASE_URL is set, else the same database. A replica lags by a moment,
    so never read through it what this request (or the citizen's last one) has written."""
    if "db_report_session" not in g:
        g.db_report_session = current_app.extensions["survey_db"]["report_sessionmaker"]()
    return g.db_report_session


def close_session(_exc: BaseException | None = None) -> None:
    for name in ("db_session", "db_report_session"):
        session = g.pop(name, None)
        if session is not None:
            session.close()


def ping(engine: Engine) -> None:
    """Raise unless the database answers and holds the schema (a cheap read of a small table).

    Uses its own connection, not the request session, so a failure cannot poison it.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL statement_timeout = 2000")
        conn.execute(text("SELECT 1 FROM questionnaire_versions LIMIT 1"))


def safe_url(url: str | URL) -> str:
    """The database URL with its password hidden, for messages and logs."""
    return normalize_url(url).render_as_string(hide_password=True)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection holding one transaction for a whole migration run: all or nothing.

    PostgreSQL has transactional DDL already. Python's sqlite3 runs DDL outside any
    transaction, so here it is wrapped in BEGIN IMMEDIATE; foreign keys are switched off
    meanwhile (Alembic's batch mode recreates tables, and dropping the old copy with
    foreign keys on would cascade-delete the answers) and checked before commit.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left {len(broken)} rows with broken foreign keys, e.g. {tuple(broken[0])}")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def unversioned_tables(conn: Connection) -> list[str]:
    """App tables present in a database that has no migration history (created by hand or
    by create_all): upgrading it would fail half-way on 'table already exists'."""
    names = set(inspect(conn).get_table_names())
    if "alembic_version" in names:
        return []
    return sorted(names & set(Base.metadata.tables))
