"""Background jobs the staff side starts and watches: poster PDFs for a unit subtree (`posters`)
and frame imports (`frame_import`), one table and one mechanism (survey/staff/jobs.py).

The state lives in the database (not in a worker's memory) so any app server can show a job's
progress and notice one that died with its server: `heartbeat_at` moves while it runs."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime
from ._time import utcnow
from .registry import Unit
from .staff import StaffUser


class Job(Base):
    """One background job of a `kind`. `state`: queued → running → done | failed."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="posters", server_default="posters", index=True)
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)  # 0: not known (yet)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    options: Mapped[str | None] = mapped_column(Text)  # JSON, the kind's input: {"size": "a6"}, {"source": …}
    result: Mapped[str | None] = mapped_column(Text)  # JSON, the kind's output: {"import_id": 7}
    result_path: Mapped[str | None] = mapped_column(String(400))  # a file under the kind's instance folder
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[StaffUser | None] = relationship()
    unit: Mapped[Unit] = relationship()
