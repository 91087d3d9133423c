"""Citizens' comments marked as reviewed by a reader (issue #14): one row per comment (a free-text
answer), who marked it and when. The comment itself stays in `answers`, untouched."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, BigId, UTCDateTime
from ._time import utcnow


class CommentReview(Base):
    __tablename__ = "comment_reviews"

    answer_id: Mapped[int] = mapped_column(BigId, ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
