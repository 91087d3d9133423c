"""Paper entry and phone interviews of the sampled survey (issue #15): the double-entry option
of a draw, the keyings of a paper form (personal: they sit beside the respondent code, so they
never reach the responses table and go with the sample members when the frame is purged), the
re-check (phúc tra) subsamples, and which staff login keyed or interviewed a stored response."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, BigId, UTCDateTime
from ._time import utcnow


class DrawEntryOption(Base):
    """Per draw: are paper forms keyed twice by two different staff (double entry)?"""

    __tablename__ = "draw_entry_options"

    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draws.id", ondelete="CASCADE"), primary_key=True)
    double_entry: Mapped[bool] = mapped_column(default=False)
    actor_login: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaperKeying(Base):
    """One keying of a returned paper form in double-entry mode: round 'first', 'second' or
    'settle' (the third person's decision). `answers` is JSON item key → value as the form reader
    returns it. Deleted with its member (ON DELETE CASCADE)."""

    __tablename__ = "paper_keyings"
    __table_args__ = (UniqueConstraint("member_id", "round"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("sample_members.id", ondelete="CASCADE"), index=True)
    round: Mapped[str] = mapped_column(String(8))
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    keyer_login: Mapped[str] = mapped_column(String(64))
    answers: Mapped[str] = mapped_column(Text)
    keyed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaperRecheck(Base):
    """A re-check (phúc tra) subsample of a draw's returned paper forms: the seed and the size
    asked for, how many forms were returned then, and the codes picked in order (JSON list)."""

    __tablename__ = "paper_rechecks"

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draws.id", ondelete="CASCADE"), index=True)
    seed: Mapped[str] = mapped_column(String(64))
    size: Mapped[str] = mapped_column(String(12))  # "10%" or "5", as asked
    returned: Mapped[int] = mapped_column(Integer)
    codes: Mapped[str] = mapped_column(Text)
    actor_login: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffEntry(Base):
    """Who keyed (paper) or interviewed (phone) a stored response: a staff login, never the respondent."""

    __tablename__ = "staff_entries"

    response_id: Mapped[int] = mapped_column(BigId, ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    staff_login: Mapped[str] = mapped_column(String(64))
