"""Fixed-window counters in the database, so a limit holds across every app server.

Used by the citizen side's abuse limits and the staff side's log-in throttling.
"""
from __future__ import annotations

import time

from sqlalchemy.orm import Session

from . import upsert
from .models import RateCounter


def hit(session: Session, key: str, window_seconds: int, now: float | None = None) -> int:
    """Count one event in the current fixed window of `key`; returns the window's count so far.
    One UPSERT statement, so concurrent workers never lose a count."""
    start = int((now if now is not None else time.time()) // window_seconds * window_seconds)
    stmt = upsert.insert(session, RateCounter.__table__).values(key=key, window_start=start, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": RateCounter.__table__.c.count + 1}
    ).returning(RateCounter.__table__.c.count)
    return int(session.execute(stmt).scalar_one())
