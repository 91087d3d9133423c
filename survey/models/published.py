"""Published reports (issue #14 item 4): an immutable snapshot of a report as it was published —
the PDF and XLSX bytes, the figures as JSON, the filters, the method, the data cut-off, who
published it and the files' sha256. Rows are only ever inserted: the ORM refuses updates and
deletes (below) and no route changes them; a correction is a new version that names the one it
corrects, so a file downloaded a year later is the same file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ._time import utcnow


class PublishedReport(Base):
    __tablename__ = "published_reports"
    __table_args__ = (UniqueConstraint("report_key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    report_key: Mapped[str] = mapped_column(String(300))  # unit + filters: the versions of one report share it
    version: Mapped[int] = mapped_column(Integer, default=1)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("published_reports.id"))
    number: Mapped[str | None] = mapped_column(String(80))  # "Số: 12/BC-UBND", as the author typed it
    title: Mapped[str] = mapped_column(String(400))
    note: Mapped[str | None] = mapped_column(Text)  # what a correction corrects
    filters: Mapped[str] = mapped_column(Text)  # JSON
    method: Mapped[str] = mapped_column(Text)  # JSON
    figures: Mapped[str] = mapped_column(Text)  # JSON
    data_cutoff: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    published_by_login: Mapped[str | None] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    xlsx_sha256: Mapped[str] = mapped_column(String(64))


def _refuse_change(_mapper, _connection, target: PublishedReport) -> None:
    raise PermissionError(f"published report {target.id} is frozen: publish a correction as a new version")


event.listen(PublishedReport, "before_update", _refuse_change)
event.listen(PublishedReport, "before_delete", _refuse_change)
