"""The submit path's write machinery: group commit, a machine-wide SQLite write lock, and
INSERTs compiled once and run on the DBAPI cursor.

A submit is a few small INSERTs and a durable commit. Done one request at a time, the
commit's fsync, SQLite's one-writer lock (whose waiters poll and sleep) and SQLAlchemy's
per-statement work cost far more than reading the form. Here concurrent submits of a process
share one transaction and one fsync, app servers on one machine queue for SQLite's lock
instead of polling for it, and a batch is one executemany per table. survey.db still owns
the sessions: a batch is written in the leading request's session and committed there.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from flask import current_app
from sqlalchemy import Dialect, Table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .db import engine, get_session

_setup = threading.Lock()  # creating an app's GroupCommits and lock, once


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
    groups = current_app.extensions.get("group_commits", {})
    group = groups.get(write)
    if group is None:
        with _setup:
            groups = current_app.extensions.setdefault("group_commits", {})
            if "sqlite_write_lock" not in current_app.extensions:
                current_app.extensions["sqlite_write_lock"] = _write_lock(engine())
            group = groups.setdefault(write, GroupCommit(write, lock=current_app.extensions["sqlite_write_lock"]))
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
    if not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
    return list(range(top + 1, top + 1 + n))


class FastInsert:
    """A multi-row INSERT built once per dialect and run straight on the DBAPI cursor.

    For the submit path only. One statement per table, whatever the batch: the sqlite3
    module releases the GIL for every row it steps, and under load each release costs a wait
    of up to Python's switch interval to get it back, while this thread holds the database's
    write lock. A multi-row VALUES list is one step (at most MAX_PARAMS values a statement).
    Values go through the columns' own types, so UTC timestamps are stored exactly as
    SQLAlchemy stores them; columns with Python defaults must be given explicitly.
    """

    MAX_PARAMS = 2000  # well under SQLite's (32,766) and PostgreSQL's (65,535) limits

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table, self.columns = table, tuple(columns)
        self._values = itemgetter(*self.columns)
        self._dialects: dict[str, tuple[str, str, dict[str, Callable[[Any], Any]]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, str, dict[str, Callable[[Any], Any]]]:
        """(INSERT … VALUES, one row's placeholders, column → the type's bind processor)."""
        found = self._dialects.get(dialect.name)
        if found is None:
            quote = dialect.identifier_preparer
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            head = (f"INSERT INTO {quote.format_table(self.table)} "
                    f"({', '.join(quote.quote(c) for c in self.columns)}) VALUES ")
            processors = {name: proc for name in self.columns
                          if (proc := self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect))}
            found = self._dialects[dialect.name] = (head, f"({', '.join([mark] * len(self.columns))})", processors)
        return found

    def many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert the rows (dicts by column name) in as few statements as the limits allow."""
        if len(self.columns) == 1:
            self.many_values(conn, [(self._values(row),) for row in rows])
        else:
            self.many_values(conn, [self._values(row) for row in rows])

    def many_values(self, conn: Connection, values: list[Sequence[Any]]) -> None:
        """Insert rows given as value tuples in column order."""
        if not values:
            return
        head, placeholders, processors = self._for(conn.dialect)
        if processors:
            index = [(self.columns.index(name), proc) for name, proc in processors.items()]
            values = [list(v) for v in values]
            for v in values:
                for i, proc in index:
                    v[i] = proc(v[i])
        per_statement = max(1, self.MAX_PARAMS // len(self.columns))
        dbapi_error = conn.dialect.loaded_dbapi.Error
        cursor = conn.connection.cursor()
        try:
            for start in range(0, len(values), per_statement):
                chunk = values[start:start + per_statement]
                sql = head + ", ".join([placeholders] * len(chunk))
                cursor.execute(sql, [x for v in chunk for x in v])
        except dbapi_error as exc:
            raise DBAPIError.instance(head, None, exc, dbapi_error, dialect=conn.dialect) from exc
        finally:
            cursor.close()
