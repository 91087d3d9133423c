"""The report files (XLSX workbook and PDF) as the page, the CLI and a publication make them:
the same filters and data give the same bytes, whoever asks.

So nothing in a file depends on the clock beyond the day: the data cut-off is the newest stored
response's time (what the figures include), the XLSX's zip entries and document properties carry
that time instead of "now" (openpyxl stamps both), and WeasyPrint is given a fixed identifier.
"""
from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..i18n import VIETNAM
from ..models import Response
from . import pdf_report, workbook
from .dashboard import Dashboard

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"
_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def cutoff(session: Session, board: Dashboard) -> datetime:
    """The data cut-off: when the newest stored response was submitted (an index lookup); a store
    without responses is cut at the start of the period."""
    newest = session.scalar(select(func.max(Response.submitted_at)))
    if newest is None:
        since = board.filters.period.since
        return datetime(since.year, since.month, since.day, tzinfo=VIETNAM).astimezone(UTC)
    return newest if newest.tzinfo else newest.replace(tzinfo=UTC)


def today() -> date:
    """The report's date (the place-date line), in Vietnam."""
    return datetime.now(VIETNAM).date()


def _stable_zip(data: bytes, stamp: datetime) -> bytes:
    """The workbook with every zip entry dated `stamp` and the document's created/modified set to it."""
    when = stamp.astimezone(UTC)
    date_time = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _STAMP.sub(lambda m: m.group(1) + iso + m.group(2), body)
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, body)
    return out.getvalue()


def xlsx(board: Dashboard, cut: datetime) -> bytes:
    return _stable_zip(workbook.build(board, cut), cut)


def pdf(session: Session, board: Dashboard, cut: datetime, day: date, number: str | None = None) -> bytes:
    return pdf_report.render(session, board, cut, day, number)


def filename(board: Dashboard, ext: str) -> str:
    p = board.filters.period
    return f"bao-cao-hai-long-{board.unit.code}-{p.since:%Y%m%d}-{p.until:%Y%m%d}.{ext}"
