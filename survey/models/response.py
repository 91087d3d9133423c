"""Responses and their answers, stored as raw codes.

Shape: one `responses` row per submission carrying the tags analysis groups by (unit,
counter, field, procedure, channel, source, time), and one narrow `answers` row per
answered item (item key + integer code, or text). Coded answers are integers so that
aggregation is a GROUP BY in the database; reports read pre-aggregated counts
(see analysis), not these rows. No personal data lives here.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, BigId, UTCDateTime
from ._time import utcnow


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_version_submitted", "version_id", "submitted_at"),
        Index("ix_responses_submitted_at", "submitted_at"),  # month-by-month count refresh
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))  # web, counter, dossier, paper, phone, post
    source: Mapped[str] = mapped_column(String(10), default="feedback")  # feedback | sample
    language: Mapped[str] = mapped_column(String(2), default="vi")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"))
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedures.id"))
    # Keyed hash of the first-party device cookie, per counter: lets repeats be flagged
    # without identifying anyone.
    device_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # repeat checks look it up
    # A sampled response's draw and stratum (never the member or respondent code): weighted estimates group by them.
    sample_draw_id: Mapped[int | None] = mapped_column(ForeignKey("sample_draws.id"), index=True)
    stratum: Mapped[str | None] = mapped_column(String(120))

    answers: Mapped[list[Answer]] = relationship(back_populates="response", cascade="all, delete-orphan")
    flags: Mapped[list[ResponseFlag]] = relationship(back_populates="response", cascade="all, delete-orphan")


class Answer(Base):
    __tablename__ = "answers"
    # covering (code included): reports and the count refresh read answers by response without touching the table
    __table_args__ = (Index("ix_answers_response_item_code", "response_id", "item_key", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(64))
    code: Mapped[int | None] = mapped_column(Integer)  # scale/choice code or whole number; one row per chosen option
    text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")


class ResponseFlag(Base):
    """A quality flag with its reason. Flags exclude a response from reports by default;
    nothing is ever deleted."""

    __tablename__ = "response_flags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # honeypot, device_repeat, speeder, straightline, duplicate_dossier, burst
    detail: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    response: Mapped[Response] = relationship(back_populates="flags")


class IdempotencyKey(Base):
    """One key per rendered form. Inserting it in the same transaction as the response
    makes a double tap, refresh or network retry store exactly one response, across any
    number of app servers."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
