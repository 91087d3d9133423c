"""Fixed-window counters in the database, so a limit holds across every app server.

Used by the citizen side's abuse limits (on every submit, so the statement is built once)
and the staff side's log-in throttling.
"""
from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.orm import Session

# One UPSERT, the same text on SQLite (3.35+) and PostgreSQL: concurrent workers never lose a count.
_HIT = text(
    "INSERT INTO rate_counters (key, window_start, count) VALUES (:key, :start, 1) "
    "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1 "
    "RETURNING count"
)


def hit(session: Session, key: str, window_seconds: int, now: float | None = None) -> int:
    """Count one event in the current fixed window of `key`; returns the window's count so far."""
    start = int((now if now is not None else time.time()) // window_seconds * window_seconds)
    return int(session.execute(_HIT, {"key": key, "start": start}).scalar_one())
