"""Maintained tables rebuilt month by month from the raw rows by survey.reporting.counts.refresh:
answer counts, which the standard report reads so its cost follows the number of cells
(month × version × unit × field × source × flag × item × code), not the number of raw
responses; and response signatures, which ad-hoc breakdowns read instead of the answers."""
from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, BigId


class AnswerCount(Base):
    __tablename__ = "answer_counts"
    # Covering, in the order reports read and group: a report by unit scans one version's range of
    # the first and sums flagged cells over their codes without sorting (survey.reporting.standard);
    # one summed over the units of a subtree (the dashboard's field table) streams its groups from
    # the second, whose unit comes last (migration 0015).
    __table_args__ = (Index("ix_answer_counts_report", "version_id", "month", "unit_id", "field_id", "source",
                            "item_key", "flag_reason", "code", "n"),
                      Index("ix_answer_counts_grouped", "version_id", "month", "field_id", "source", "item_key",
                            "flag_reason", "code", "unit_id", "n"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # first day of the month, Vietnam time (survey.reporting.counts.VN)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"))
    source: Mapped[str] = mapped_column(String(10))
    flag_reason: Mapped[str | None] = mapped_column(String(32))  # first flag reason; NULL = clean
    item_key: Mapped[str] = mapped_column(String(64))
    code: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)


class ResponseSignature(Base):
    """One row per response that has coded answers: its tags, its first flag reason and all its
    coded answers packed into four integers (layout: survey.reporting.counts.signature_layout, fixed by
    the immutable questionnaire version).

    Per-response, not per-cell: counts by a demographic item at the grain of answer_counts
    would hold more rows than the answers table itself (about 30 demographic options × 23
    items × 6 codes per month, unit and field), while a signature replaces ~30 answer rows by
    one, so a breakdown by any tag or item reads one narrow row per response. Derived data
    without foreign keys: it is deleted and rebuilt, never edited.
    """

    __tablename__ = "response_signatures"
    __table_args__ = (Index("ix_response_signatures_version_month", "version_id", "month"),)

    response_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    month: Mapped[date] = mapped_column(Date)  # as in answer_counts
    version_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    field_id: Mapped[int | None] = mapped_column(Integer)
    counter_id: Mapped[int | None] = mapped_column(Integer)
    procedure_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(2))
    flag_reason: Mapped[str | None] = mapped_column(String(32))  # first flag reason; NULL = clean
    answers: Mapped[int] = mapped_column(Integer)  # coded answer rows packed: a check that each fitted
    p0: Mapped[int] = mapped_column(BigInteger)
    p1: Mapped[int] = mapped_column(BigInteger)
    p2: Mapped[int] = mapped_column(BigInteger)
    p3: Mapped[int] = mapped_column(BigInteger)


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
