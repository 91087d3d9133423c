"""Keep answer_counts and response_signatures in step with the raw responses.

A refresh finds the months touched since the last one (months of responses with new ids, and
of responses that received new flags) and rebuilds those months completely from the raw rows,
inside the caller's transaction: one signature per response (survey.reporting.signatures: its coded
answers packed into integers, grouped along the indexes, so the database streams it), then the
month's answer_counts cells cross-tabulated from those signatures in numpy. Rebuilding whole
months rather than adding deltas keeps both exact whatever order rows arrive in. The
watermark also keeps how many rows had ids up to it: when that number changes, rows committed
late below it (PostgreSQL hands out ids before commit, so a long import can commit after a
refresh that already saw higher ids) or were deleted, and everything is rebuilt.

Months are calendar months in Vietnam time (UTC+7 all year, no daylight saving), so a form
sent at 06:30 on 1 April in Hà Nội counts in April, as the office that received it expects.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import Date, String, delete, func, insert, literal, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from questionnaires.loader import Questionnaire

from .. import catalog, upsert
from ..db import unindexed  # noqa: F401  (re-exported: microdata and standard import it from here)
from ..models import (
    Answer,
    AnswerCount,
    CountWatermark,
    QuestionnaireVersion,
    Response,
    ResponseFlag,
    ResponseSignature,
)
from .signatures import PART_BITS, Packed, answered, cells, code_range, item_width, packed_sums, packing

WATERMARK = "answer_counts"
PARTS = 4  # packed integers per stored signature (p0–p3); the bundled questionnaires need 1–3
PART_COLUMNS = tuple(f"p{i}" for i in range(PARTS))
SIGNATURE_TAGS = ("version_id", "unit_id", "field_id", "counter_id", "procedure_id", "channel", "source", "language")
VN = timezone(timedelta(hours=7), "ICT")


class local_month(FunctionElement):  # noqa: N801  (a SQL function, named like one)
    """'YYYY-MM' of a UTC timestamp column in Vietnam time, computed by the database."""

    type = String()
    inherit_cache = True


@compiles(local_month, "sqlite")
def _local_month_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text (survey.db.UTCDateTime)
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+7 hours')"


@compiles(local_month, "postgresql")
def _local_month_postgresql(element, compiler, **kw) -> str:
    # a fixed offset, not a zone name: 'UTC+7' would mean UTC−7 to PostgreSQL (POSIX signs)
    return f"to_char(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM')"


def month_of(label: str) -> date:
    """'2025-03' → date(2025, 3, 1)."""
    year, month = label.split("-")
    return date(int(year), int(month), 1)


def month_start(when: datetime) -> date:
    """The (Vietnam-time) month a timestamp falls in."""
    local = when.astimezone(VN)
    return date(local.year, local.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a Vietnam-time month as aware datetimes."""
    end = next_month(month)
    return datetime(month.year, month.month, 1, tzinfo=VN), datetime(end.year, end.month, 1, tzinfo=VN)


def first_flags():
    """response_id → its first flag reason (alphabetical): one reason per flagged response."""
    return (
        select(ResponseFlag.response_id, func.min(ResponseFlag.reason).label("reason"))
        .group_by(ResponseFlag.response_id).subquery("first_flag")
    )


def signature_layout(questionnaire: Questionnaire) -> dict[str, Packed] | None:
    """Where each coded item of a version sits in its stored signature; None when they do not
    fit in PARTS integers (breakdowns then read that version's raw answers). A function of the
    definition alone, which never changes once published; changing this function needs a
    migration that clears response_signatures."""
    fields = [(key, *found) for key in dict.fromkeys(i.key for i in questionnaire.items)
              if (found := code_range(questionnaire, key)) and item_width(*found) <= PART_BITS]
    packed = packing(fields)
    if packed and packed[-1].part >= PARTS:
        return None
    return {p.key: p for p in packed}


def rebuild_month(session: Session, month: date) -> None:
    """Replace the month's signatures and cells by a fresh aggregation of its raw answers."""
    session.execute(delete(AnswerCount).where(AnswerCount.month == month))
    for version in session.scalars(select(QuestionnaireVersion).order_by(QuestionnaireVersion.id)):
        layout = _rebuild_signatures(session, month, version)
        if layout is None or not _cells_from_signatures(session, month, version.id, layout):
            _cells_from_answers(session, month, version.id)


def _rebuild_signatures(session: Session, month: date, version: QuestionnaireVersion) -> dict[str, Packed] | None:
    """Replace the month's signatures of one version (none when its layout does not fit)."""
    session.execute(delete(ResponseSignature).where(ResponseSignature.version_id == version.id,
                                                    ResponseSignature.month == month))
    layout = signature_layout(catalog.definition(version))
    if layout is None:
        return None
    start, end = month_bounds(month)
    reason = select(func.min(ResponseFlag.reason)).where(ResponseFlag.response_id == Response.id).scalar_subquery()
    rows = (
        select(Response.id, literal(month, Date()), *(getattr(Response, t) for t in SIGNATURE_TAGS), reason,
               func.count(), *packed_sums(layout.values(), PARTS))
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.version_id == version.id, Response.submitted_at >= start, Response.submitted_at < end,
               Answer.code.is_not(None))
        .group_by(Response.version_id, Response.submitted_at, Response.id)
    )
    session.execute(insert(ResponseSignature).from_select(
        ["response_id", "month", *SIGNATURE_TAGS, "flag_reason", "answers", *PART_COLUMNS], rows))
    return layout


def _cells_from_signatures(session: Session, month: date, version_id: int, layout: dict[str, Packed]) -> bool:
    """The month's answer_counts cells of one version from its signatures; False, writing
    nothing, when some answer row did not fit its bit field (an item or code the definition
    does not have), so the caller counts the raw answers instead."""
    sig = ResponseSignature
    result = session.connection().execute(
        select(sig.unit_id, sig.field_id, sig.source, sig.flag_reason, sig.answers, *(getattr(sig, c) for c in PART_COLUMNS))
        .where(sig.version_id == version_id, sig.month == month))
    rows = result.cursor.fetchall()
    result.close()
    if not rows:
        return True
    frame = pd.DataFrame.from_records(rows, columns=["unit", "field", "source", "flag_reason", "answers",
                                                     *(f"_part{i}" for i in range(PARTS))])
    packed = list(layout.values())
    if (answered(frame, packed) != frame["answers"].to_numpy()).any():
        return False
    found = cells(frame, ["unit", "field"], packed, [p.key for p in packed])
    sqlite = session.get_bind().dialect.name == "sqlite"
    ids = {c: found[c].astype("Int64").astype(object) for c in ("unit", "field")}
    columns = {
        "month": [month.isoformat() if sqlite else month] * len(found),  # SQLite keeps dates as ISO text
        "version_id": [version_id] * len(found),
        "unit_id": ids["unit"].where(ids["unit"].notna(), None).tolist(),
        "field_id": ids["field"].where(ids["field"].notna(), None).tolist(),
        "source": found["source"].tolist(),
        "flag_reason": found["flag_reason"].astype(object).where(found["flag_reason"].notna(), None).tolist(),
        "item_key": found["item"].tolist(), "code": found["code"].tolist(), "n": found["n"].tolist(),
    }
    _insert_rows(session, AnswerCount.__tablename__, list(columns), list(zip(*columns.values())))
    return True


def _insert_rows(session: Session, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Plain values straight to the driver: SQLAlchemy's per-row parameter handling costs more
    than SQLite's insert, and psycopg's executemany costs a round trip per row, COPY none."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        with conn.connection.dbapi_connection.cursor() as cursor, \
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)


def _cells_from_answers(session: Session, month: date, version_id: int) -> None:
    """The month's answer_counts cells of one version by GROUP BY over its raw answers."""
    start, end = month_bounds(month)
    flag = first_flags()
    groups = (Response.version_id, Response.unit_id, Response.field_id, Response.source,
              flag.c.reason, Answer.item_key, Answer.code)
    found = (
        select(literal(month, Date()), *groups, func.count())
        .select_from(Response)
        .join(Answer, Answer.response_id == Response.id)
        .outerjoin(flag, flag.c.response_id == Response.id)
        .where(Response.version_id == version_id, Response.submitted_at >= start, Response.submitted_at < end,
               Answer.code.is_not(None))
        .group_by(*groups)
    )
    session.execute(insert(AnswerCount).from_select(
        ["month", "version_id", "unit_id", "field_id", "source", "flag_reason", "item_key", "code", "n"], found
    ))


def stale_months(session: Session, after_id: int) -> list[date]:
    """Months of the responses with an id above `after_id` (0: every month with responses)."""
    labels = session.scalars(select(local_month(Response.submitted_at)).where(Response.id > after_id).distinct())
    return sorted(month_of(m) for m in labels)


def _flagged_months(session: Session, after_id: int) -> list[date]:
    """Months of the responses that received a flag with an id above `after_id`."""
    labels = session.scalars(
        select(local_month(Response.submitted_at)).join(ResponseFlag, ResponseFlag.response_id == Response.id)
        .where(ResponseFlag.id > after_id).distinct()
    )
    return [month_of(m) for m in labels]


def _tops(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.max(Response.id))) or 0, session.scalar(select(func.max(ResponseFlag.id))) or 0)


def _seen(session: Session, response_id: int, flag_id: int) -> tuple[int, int]:
    """How many responses and flags have ids up to the given ones."""
    return (session.scalar(select(func.count()).select_from(Response).where(Response.id <= response_id)) or 0,
            session.scalar(select(func.count()).select_from(ResponseFlag).where(ResponseFlag.id <= flag_id)) or 0)


def _changed_below(session: Session, mark: CountWatermark) -> bool:
    """Whether rows appeared (late commits) or vanished below the watermark since it was set.

    Only PostgreSQL can commit ids out of order; on SQLite writers take turns and ids follow
    commit order, so the count (a tenth of a second at a million responses) is skipped.
    """
    if session.get_bind().dialect.name == "sqlite" and mark.responses_seen:
        return False
    return _seen(session, mark.last_response_id, mark.last_flag_id) != (mark.responses_seen, mark.flags_seen)


def _up_to_date(session: Session, mark: CountWatermark | None) -> bool:
    if mark is None:
        return _tops(session) == (0, 0)
    return _tops(session) == (mark.last_response_id, mark.last_flag_id) and not _changed_below(session, mark)


def _locked_mark(session: Session) -> CountWatermark:
    """The watermark row, locked until the caller commits: refreshes from several app servers
    queue here instead of rebuilding the same month twice (which would double its counts)."""
    session.execute(upsert.insert(session, CountWatermark).values(
        name=WATERMARK, last_response_id=0, responses_seen=0, last_flag_id=0, flags_seen=0,
    ).on_conflict_do_nothing(index_elements=["name"]))
    return session.scalars(
        select(CountWatermark).where(CountWatermark.name == WATERMARK).with_for_update().execution_options(populate_existing=True)
    ).one()


def _planner_statistics(session: Session) -> None:
    """Refresh SQLite's planner statistics (bounded sampling: milliseconds at any size).

    Without them SQLite guesses every table has the same size and answers a month's
    rebuild (or a report's breakdown) by scanning all answers instead of the month's
    responses: 35 s instead of 3 s per month at a million responses. PostgreSQL's
    autovacuum keeps its own statistics.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA analysis_limit=400"))
        session.execute(text("ANALYZE"))


def pending_months(session: Session, full: bool = False) -> list[date]:
    """The months a refresh would rebuild now (for a progress bar's length); reads only."""
    mark = session.get(CountWatermark, WATERMARK)
    if full or mark is None or _changed_below(session, mark):
        return stale_months(session, 0)
    return sorted(set(stale_months(session, mark.last_response_id)) | set(_flagged_months(session, mark.last_flag_id)))


def refresh(session: Session, full: bool = False, progress: Callable[[int], None] | None = None) -> int:
    """Bring answer_counts and response_signatures up to date; returns the number of months
    rebuilt (caller commits).

    Nothing is written when nothing changed, so reading a report stays a read.
    """
    if not full and _up_to_date(session, session.get(CountWatermark, WATERMARK)):
        return 0
    mark = _locked_mark(session)
    _planner_statistics(session)
    # Take the marks before rebuilding: a row committed meanwhile is then either above the
    # mark (picked up next time) or makes the next count differ (full rebuild); never lost.
    top_response, top_flag = _tops(session)
    seen = _seen(session, top_response, top_flag)
    rebuild_all = full or _changed_below(session, mark)
    if rebuild_all:
        session.execute(delete(AnswerCount))
        session.execute(delete(ResponseSignature))
        months = stale_months(session, 0)
    else:
        months = sorted(set(stale_months(session, mark.last_response_id)) | set(_flagged_months(session, mark.last_flag_id)))
    for month in months:
        rebuild_month(session, month)
        if progress:
            progress(1)
    mark.last_response_id, mark.last_flag_id = top_response, top_flag
    mark.responses_seen, mark.flags_seen = seen
    return len(months)
