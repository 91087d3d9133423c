"""Single-use dossier links and shared rate-limit counters: state that must be shared by
every app server, so it lives in the database, not in process memory."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, BigId, UTCDateTime
from ._time import utcnow


class DossierToken(Base):
    __tablename__ = "dossier_tokens"
    __table_args__ = (UniqueConstraint("unit_id", "dossier_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    dossier_code: Mapped[str] = mapped_column(String(64))
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"))
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedures.id"))
    completed_on: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateCounter(Base):
    """Fixed-window counter keyed by what is limited (a counter, a device), shared by all workers."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
