"""Citizens' comments (free-text answers) for readers: found by unit subtree, period, field,
questionnaire, channel, source, procedure and score (the dashboard's filters, so a filtered page,
its comments and its PDF speak of the same answers), and masked before anyone sees them.

`mask` is pure and runs on every comment before it leaves this module: citizens write their
phone number, ID number or e-mail into the comment box ("gọi lại cho tôi 0912 345 678"), and a
reader must never see personal data (decree 13/2023/NĐ-CP). Comments of flagged responses are
left out, as in the figures.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased

from .. import catalog
from ..i18n import _
from ..models import (
    Answer,
    CommentReview,
    Field,
    Procedure,
    QuestionnaireVersion,
    Response,
    ResponseFlag,
    StaffUser,
    Unit,
)
from .counts import VN
from .dashboard import DashboardError, Filters

PAGE = 50
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Vietnamese phones: 0 or +84/84 then 9 digits (mobiles) or 10 (landlines), spaces, dots or dashes between
PHONE = re.compile(r"(?<![\d+])(?:\+\s?84|84|0)(?:[\s.\-]?\d){9,10}(?!\d)")
CCCD = re.compile(r"(?<!\d)(?:\d[\s.]?){11}\d(?!\d)")  # citizen ID card: 12 digits
CMND = re.compile(r"(?<!\d)(?:\d[\s.]?){8}\d(?!\d)")  # old ID card: 9 digits
LONG_NUMBER = re.compile(r"(?<!\d)\d{9,}(?!\d)")  # bank accounts and the like: any other 9+ digit run
EMAIL_MASK, PHONE_MASK, ID_MASK = "[email đã ẩn]", "[số điện thoại đã ẩn]", "[số giấy tờ đã ẩn]"


def mask(text: str) -> str:
    """The comment with e-mail addresses, phone numbers and ID numbers replaced by a label."""
    text = EMAIL.sub(EMAIL_MASK, text)
    text = PHONE.sub(PHONE_MASK, text)
    text = CCCD.sub(ID_MASK, text)
    text = CMND.sub(ID_MASK, text)
    return LONG_NUMBER.sub(ID_MASK, text)


def parse_score(text: str) -> int | None:
    """'' → any score; '1'…'5' → that answer to the overall question. ValueError otherwise."""
    if not text.strip():
        return None
    score = int(text)
    if not 1 <= score <= 5:
        raise ValueError(text)
    return score


@dataclass(frozen=True)
class Comment:
    answer_id: int
    text: str  # masked
    submitted_at: datetime
    unit: str | None
    field: str | None
    questionnaire: str
    item: str
    score: int | None
    reviewed_at: datetime | None
    reviewed_by: str | None


def comment_items(session: Session, key: str | None = None) -> dict[str, dict[str, str]]:
    """questionnaire key → {free-text item key: its label}; and each questionnaire's overall item under ''."""
    out = {}
    for version in catalog.list_latest(session):
        q = catalog.definition(version)
        if key and q.key != key:
            continue
        items = {i.key: i.label.vi for i in q.items if i.type == "textarea"}
        if items:
            out[q.key] = {**items, "": q.rollup.overall_item if q.rollup and q.rollup.overall_item else ""}
    return out


def find(session: Session, f: Filters, score: int | None = None, page: int = 1) -> tuple[list[Comment], bool]:
    """One page of masked comments, newest first, and whether there are more."""
    unit = session.scalar(select(Unit).where(Unit.code == f.unit))
    if unit is None:
        raise DashboardError(f"unknown unit {f.unit}")
    items = comment_items(session, f.questionnaire)
    if not items:
        return [], False
    overall = aliased(Answer)
    reviewer = aliased(StaffUser)
    keys = {k for per in items.values() for k in per if k}
    overall_keys = {per[""] for per in items.values() if per[""]}
    since = datetime(f.period.since.year, f.period.since.month, f.period.since.day, tzinfo=VN)
    until = datetime(f.period.until.year, f.period.until.month, f.period.until.day, tzinfo=VN) + timedelta(days=1)
    query = (
        select(Answer.id, Answer.text, Answer.item_key, Response.submitted_at, Unit.name, Field.name_vi,
               QuestionnaireVersion.key, overall.code, CommentReview.reviewed_at, reviewer.login)
        .join(Response, Response.id == Answer.response_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.version_id)
        .join(Unit, Unit.id == Response.unit_id)
        .outerjoin(Field, Field.id == Response.field_id)
        .outerjoin(overall, and_(overall.response_id == Response.id, overall.item_key.in_(overall_keys)))
        .outerjoin(CommentReview, CommentReview.answer_id == Answer.id)
        .outerjoin(reviewer, reviewer.id == CommentReview.reviewed_by_id)
        .where(Answer.item_key.in_(keys), Answer.text.is_not(None), Answer.text != "",
               QuestionnaireVersion.key.in_(items), Unit.path.startswith(unit.path),
               Response.submitted_at >= since, Response.submitted_at < until,
               ~exists().where(ResponseFlag.response_id == Response.id))
    )
    if f.field:
        query = query.where(Field.code == f.field)
    if f.source:
        query = query.where(Response.source == f.source)
    if f.channel:
        query = query.where(Response.channel == f.channel)
    if f.procedure:  # as the figures: the procedure the response carries (its dossier link's, or an import's)
        procedure = session.scalar(select(Procedure.id).where(Procedure.code == f.procedure))
        if procedure is None:
            raise DashboardError(_("Không có thủ tục mã “{code}”: chọn thủ tục trong danh sách hoặc bỏ bộ lọc thủ tục.",
                                   code=f.procedure[:60]))
        query = query.where(Response.procedure_id == procedure)
    if score is not None:
        query = query.where(overall.code == score)
    rows = session.execute(query.order_by(Response.submitted_at.desc(), Answer.id.desc())
                           .limit(PAGE + 1).offset((page - 1) * PAGE)).all()
    out = [Comment(r[0], mask(r[1]), r[3], r[4], r[5], r[6], items.get(r[6], {}).get(r[2], r[2]),
                   r[7], r[8], r[9]) for r in rows[:PAGE]]
    return out, len(rows) > PAGE


def mark_reviewed(session: Session, unit: Unit, answer_id: int, user: StaffUser) -> bool:
    """Mark a comment inside the unit's subtree as reviewed (again is a no-op); False if there is no such comment."""
    found = session.execute(
        select(Answer.id).join(Response, Response.id == Answer.response_id).join(Unit, Unit.id == Response.unit_id)
        .where(Answer.id == answer_id, Answer.text.is_not(None), Unit.path.startswith(unit.path))
    ).first()
    if found is None:
        return False
    if session.get(CommentReview, answer_id) is None:
        session.add(CommentReview(answer_id=answer_id, reviewed_by_id=user.id))
        session.flush()
    return True
