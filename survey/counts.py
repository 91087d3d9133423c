"""Keep answer_counts in step with the raw responses.

A refresh finds the months that received responses since the last watermark and rebuilds
those months completely from the raw rows (delete + INSERT … SELECT … GROUP BY, inside the
caller's transaction). Rebuilding whole months rather than adding deltas keeps the table
exact even when a response with a lower id commits late on PostgreSQL: the current month
is rebuilt again at the next refresh. `full=True` rebuilds everything.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Date, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from .models import Answer, AnswerCount, CountWatermark, Response, ResponseFlag

WATERMARK = "answer_counts"


def month_start(when: datetime) -> date:
    return date(when.year, when.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bounds(month: date) -> tuple[datetime, datetime]:
    end = next_month(month)
    return datetime(month.year, month.month, 1, tzinfo=UTC), datetime(end.year, end.month, 1, tzinfo=UTC)


def rebuild_month(session: Session, month: date) -> None:
    """Replace the month's cells by a fresh aggregation of its raw answers."""
    start, end = _bounds(month)
    session.execute(delete(AnswerCount).where(AnswerCount.month == month))
    first_flag = (
        select(ResponseFlag.response_id, func.min(ResponseFlag.reason).label("reason"))
        .group_by(ResponseFlag.response_id).subquery()
    )
    groups = (Response.version_id, Response.unit_id, Response.field_id, Response.source,
              first_flag.c.reason, Answer.item_key, Answer.code)
    cells = (
        select(literal(month, Date()), *groups, func.count())
        .select_from(Response)
        .join(Answer, Answer.response_id == Response.id)
        .outerjoin(first_flag, first_flag.c.response_id == Response.id)
        .where(Response.submitted_at >= start, Response.submitted_at < end, Answer.code.is_not(None))
        .group_by(*groups)
    )
    session.execute(insert(AnswerCount).from_select(
        ["month", "version_id", "unit_id", "field_id", "source", "flag_reason", "item_key", "code", "n"], cells
    ))


def stale_months(session: Session, after_id: int) -> list[date]:
    first, last = session.execute(
        select(func.min(Response.submitted_at), func.max(Response.submitted_at)).where(Response.id > after_id)
    ).one()
    if first is None:
        return []
    months, month = [], month_start(first)
    while month <= month_start(last):
        months.append(month)
        month = next_month(month)
    return months


def refresh(session: Session, full: bool = False, progress=None) -> int:
    """Bring answer_counts up to date; returns the number of months rebuilt (caller commits)."""
    mark = session.get(CountWatermark, WATERMARK) or CountWatermark(name=WATERMARK, last_response_id=0)
    session.add(mark)
    top = session.scalar(select(func.max(Response.id))) or 0
    if full:
        session.execute(delete(AnswerCount))
        months = stale_months(session, 0)
    else:
        months = stale_months(session, mark.last_response_id)
    for month in months:
        rebuild_month(session, month)
        if progress:
            progress(1)
    mark.last_response_id = top
    return len(months)
