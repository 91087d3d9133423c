"""Maintained answer counts: what the standard report reads, so its cost follows the number
of cells (month × version × unit × field × source × flag × item × code), not the number of
raw responses. Rebuilt month by month from the raw rows by survey.counts.refresh."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, BigId


class AnswerCount(Base):
    __tablename__ = "answer_counts"
    # Covering, in the order reports read and group: a report scans one version's range of
    # this index and sums flagged cells over their codes without sorting (survey.reports).
    __table_args__ = (Index("ix_answer_counts_report", "version_id", "month", "unit_id", "field_id", "source",
                            "item_key", "flag_reason", "code", "n"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # first day of the month, Vietnam time (survey.counts.VN)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"))
    source: Mapped[str] = mapped_column(String(10))
    flag_reason: Mapped[str | None] = mapped_column(String(32))  # first flag reason; NULL = clean
    item_key: Mapped[str] = mapped_column(String(64))
    code: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)


class CountWatermark(Base):
    """How far answer_counts has read: the highest response and flag ids folded in, and how
    many rows had ids up to them then. A later count that differs means rows committed late
    (PostgreSQL hands out ids before commit) or were deleted, and the counts are rebuilt."""

    __tablename__ = "count_watermarks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_response_id: Mapped[int] = mapped_column(BigId, default=0)
    responses_seen: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
    last_flag_id: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
    flags_seen: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
