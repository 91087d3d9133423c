"""INSERT … ON CONFLICT for the two databases the app runs on, so shared state (rate counters,
dossier links) is written race-free by any number of app servers."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert(session: Session, table: Any) -> Any:
    """The dialect's insert() (with on_conflict_do_nothing/do_update) for the session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database '{dialect}' (SQLite or PostgreSQL)")
