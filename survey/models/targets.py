"""Plan targets as loaded by `flask --app wsgi targets load`: stored in the database so every
app server judges figures against the same targets, whatever files it has on disk."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ._time import utcnow


class PlanTarget(Base):
    """One target: its validated definition as JSON (re-validated by analysis.targets on read)."""

    __tablename__ = "plan_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), unique=True)
    definition: Mapped[str] = mapped_column(Text)
    source_file: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
