"""The one owner of the engine and the session lifecycle.

A request (or a CLI command) gets one session from `get_session()`; it is closed on
teardown. Domain functions take a session and never open, commit or close one: the view
or command commits once at its boundary.

Two databases are supported: SQLite (one machine, the default) and PostgreSQL through
psycopg 3 (several app servers). Nothing here touches the database at start-up, so an app
server whose database is down still starts and answers 503 instead of crash-looping.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
import fcntl
import os
from operator import itemgetter
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData, Table, create_engine, event, insert, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
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
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre_ping replaces connections a database restart or failover has broken.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_timeout", 10)
    connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT, "application_name": "sipas"}
    return create_engine(parsed, connect_args=connect_args, **kwargs)


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


def init_app(app: Flask) -> None:
    pool: dict[str, Any] = {}
    if app.config.get("DATABASE_POOL_SIZE"):
        pool["pool_size"] = int(app.config["DATABASE_POOL_SIZE"])
    engine = make_engine(app.config["DATABASE_URL"], **pool)
    replica_url = app.config.get("REPORTS_DATABASE_URL")
    reports = make_engine(replica_url, **pool) if replica_url else engine
    app.extensions["survey_db"] = {
        "engine": engine,
        "sessionmaker": sessionmaker(engine, expire_on_commit=False),
        "report_sessionmaker": sessionmaker(reports, expire_on_commit=False),
        "group_commits": {},  # write function → its GroupCommit
        "group_commits_lock": threading.Lock(),
        "write_lock": _write_lock(engine),
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


@dataclass(eq=False)
class _Unit:
    item: Any
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next batch
    alone: bool = False  # its batch failed: write it again in its own transaction
    result: Any = None


class GroupCommit:
    """Concurrent writes of one process share one transaction and one commit (one fsync).

    `write(session, items)` writes a batch of items without committing and returns one
    result per item. The first thread to arrive leads: it writes every item waiting (at most
    `limit`) in its own session, commits once, wakes the others with their results and hands
    the lead to the next thread waiting, so nobody leads twice in a row. A batch of one costs
    no more than a plain commit; under load batches grow by themselves while the previous
    commit is being written, and a batch is a few statements whatever its size.

    If a batch raises, it is rolled back and every item is written again alone, in its own
    thread and transaction: a duplicate submission id, a dossier link used twice or a 429
    reaches only its own request, exactly as without batching. Nothing acknowledged is ever
    rolled back: each caller returns only after the commit that holds its item.
    """

    def __init__(self, write: Callable[[Session, list], list], limit: int = 64,
                 lock: AbstractContextManager | None = None) -> None:
        self.write = write
        self.limit = limit
        self.write_lock = lock or nullcontext()
        self._lock = threading.Lock()
        self._waiting: list[_Unit] = []
        self._leading = False

    def run(self, session: Session, item: Any) -> Any:
        unit = _Unit(item)
        with self._lock:
            self._waiting.append(unit)
            unit.lead = not self._leading
            self._leading = True
        if not unit.lead:
            unit.ready.wait()
        if unit.lead:
            self._lead(session)
        if unit.alone:
            with self.write_lock:
                result = self.write(session, [item])[0]
                session.commit()
            return result
        return unit.result

    def _lead(self, session: Session) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[:self.limit], self._waiting[self.limit:]
        try:
            with self.write_lock:
                results = self.write(session, [unit.item for unit in batch])
                session.commit()
        except BaseException:
            session.rollback()
            for unit in batch:
                unit.alone = True
        else:
            for unit, result in zip(batch, results, strict=True):
                unit.result = result
        with self._lock:
            if self._waiting:
                self._waiting[0].lead = True
                self._waiting[0].ready.set()
            else:
                self._leading = False
        for unit in batch:
            unit.lead = False
            unit.ready.set()


class MachineLock:
    """A lock shared by every process on this machine: flock on a file beside the SQLite database.

    SQLite lets one writer in at a time and makes the others poll (sleeping 1, 2, 5 … 100 ms),
    so under load one app server's writes starve while the other's take turns. Queued on
    this lock, the next writer is woken the moment the last one commits. Opened on first
    use, after gunicorn has forked the workers.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._threads = threading.Lock()  # flock is per process: threads queue here first

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _write_lock(engine: Engine) -> AbstractContextManager | None:
    """SQLite files get a machine-wide write lock; PostgreSQL takes concurrent writers itself."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return MachineLock(f"{database}.writelock")


def group_commit(write: Callable[[Session, list], list], item: Any) -> Any:
    """Write `item` with `write` on the request's session and commit, batched with the
    concurrent writes of this process (GroupCommit); returns write's result for it."""
    state = current_app.extensions["survey_db"]
    group = state["group_commits"].get(write)
    if group is None:
        with state["group_commits_lock"]:
            group = state["group_commits"].setdefault(write, GroupCommit(write, lock=state["write_lock"]))
    return group.run(get_session(), item)


def new_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """n fresh primary keys for `table`, in one statement, so a batch inserts with executemany.

    PostgreSQL draws them from the column's sequence. SQLite has no sequence: the write lock
    is taken first (BEGIN IMMEDIATE), so the largest id cannot change before the insert, and
    ids continue from it as SQLite's own rowid choice would.
    """
    if conn.dialect.name == "postgresql":
        return list(conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, %(n)s)", {"n": n}
        ).scalars())
    dbapi = conn.connection.dbapi_connection
    if not dbapi.in_transaction:
        dbapi.execute("BEGIN IMMEDIATE")
    top = dbapi.execute(f"SELECT coalesce(max(id), 0) FROM {table.name}").fetchone()[0]
    return list(range(top + 1, top + 1 + n))


@dataclass(frozen=True)
class _CompiledInsert:
    sql: str
    processors: dict[str, Callable[[Any], Any]]  # column → the type's bind processor
    positional: Callable[[dict], tuple] | None  # for qmark drivers (SQLite); psycopg takes the dict

    def params(self, row: dict[str, Any]) -> tuple | dict:
        if self.processors:
            row = {k: (self.processors[k](v) if k in self.processors else v) for k, v in row.items()}
        return self.positional(row) if self.positional else row


class FastInsert:
    """An INSERT compiled once per dialect and run straight on the DBAPI cursor.

    For the submit path only, where SQLAlchemy's per-statement work cost as much as the
    database's. Values go through the columns' own types (UTC timestamps are stored exactly
    as SQLAlchemy stores them); columns with Python defaults must be given explicitly.
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table, self.columns = table, tuple(columns)
        self._compiled: dict[str, _CompiledInsert] = {}

    def _for(self, dialect: Dialect) -> _CompiledInsert:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = insert(self.table).compile(dialect=dialect, column_keys=list(self.columns))
            order = list(compiled.positiontup) if compiled.positional else None
            if order is not None and len(order) < 2:  # itemgetter of one name returns a value, not a tuple
                raise ValueError("FastInsert needs at least two columns")
            processors = {name: proc for name in self.columns
                          if (proc := self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect))}
            found = self._compiled[dialect.name] = _CompiledInsert(
                compiled.string, processors, itemgetter(*order) if order else None)
        return found

    def many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert the rows (dicts by column name) with one executemany."""
        with self._cursor(conn) as (cursor, compiled):
            cursor.executemany(compiled.sql, [compiled.params(row) for row in rows])

    @contextmanager
    def _cursor(self, conn: Connection) -> Iterator[tuple[Any, _CompiledInsert]]:
        """A DBAPI cursor in the connection's transaction; driver errors are raised as
        SQLAlchemy's (IntegrityError …), like every other statement's."""
        compiled = self._for(conn.dialect)
        cursor = conn.connection.cursor()
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            yield cursor, compiled
        except dbapi_error as exc:
            raise DBAPIError.instance(compiled.sql, None, exc, dbapi_error, dialect=conn.dialect) from exc
        finally:
            cursor.close()


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
