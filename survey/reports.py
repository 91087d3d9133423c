"""The one adapter between stored rows and the analysis package.

Everything here reads the database and returns the DataFrames `analysis` expects (its
module docstring is the contract); every figure is computed in `analysis`. The standard
report reads the maintained counts; ad-hoc breakdowns aggregate raw answers in the
database and bring back only the cells.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Sequence

import pandas as pd
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, aliased

from analysis import report as analysis_report
from analysis.targets import Target, load_targets
from questionnaires.loader import Questionnaire

from . import catalog
from .counts import refresh
from .models import Answer, AnswerCount, Counter, Field, Procedure, QuestionnaireVersion, Response, ResponseFlag, Unit

# Ad-hoc dimensions read from the responses table, and how they are labelled.
RAW_DIMENSIONS = ("unit", "field", "counter", "procedure", "channel", "source", "language", "version")


class ReportError(ValueError):
    """A request the data cannot answer (unknown questionnaire, unit, item…): say which."""


@dataclass(frozen=True)
class Selection:
    """What a report covers. Dates are inclusive days; unit means the unit's whole subtree."""

    questionnaire: str
    since: date | None = None
    until: date | None = None
    unit: str | None = None
    field: str | None = None
    source: str | None = None
    include_flagged: bool = False
    by: Sequence[str] = ("unit", "field", "period")
    period: str = "M"


def questionnaire_for(session: Session, key: str) -> tuple[QuestionnaireVersion, Questionnaire]:
    row = catalog.latest(session, key)
    if row is None:
        known = ", ".join(r.key for r in catalog.list_latest(session)) or "none published"
        raise ReportError(f"unknown questionnaire '{key}' (published: {known})")
    return row, catalog.definition(row)


def unit_tree(session: Session) -> pd.DataFrame:
    parent = aliased(Unit)
    rows = session.execute(
        select(Unit.code, parent.code, Unit.name, Unit.kind).outerjoin(parent, Unit.parent_id == parent.id)
    ).all()
    return pd.DataFrame(rows, columns=["unit", "parent", "name", "kind"])


def _subtree(session: Session, code: str) -> Select:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise ReportError(f"unknown unit code '{code}'")
    return select(Unit.id).where(Unit.path.startswith(unit.path))


def _field_id(session: Session, code: str) -> int:
    fid = session.scalar(select(Field.id).where(Field.code == code))
    if fid is None:
        raise ReportError(f"unknown field code '{code}'")
    return fid


def _day_bounds(sel: Selection) -> tuple[datetime | None, datetime | None]:
    start = datetime(sel.since.year, sel.since.month, sel.since.day, tzinfo=UTC) if sel.since else None
    end = None
    if sel.until:
        end = datetime(sel.until.year, sel.until.month, sel.until.day, tzinfo=UTC) + pd.Timedelta(days=1).to_pytimedelta()
    return start, end


def counts_frame(session: Session, sel: Selection, refresh_first: bool = True) -> pd.DataFrame:
    """Counts frame from the maintained counts (month resolution) for the standard report.

    A date range that does not start and end on month boundaries is answered from the raw
    rows instead, so a custom range is never silently widened to whole months.
    """
    if not _month_aligned(sel):
        return breakdown(session, sel, by=[d for d in sel.by if d != "period"], with_period=True)
    if refresh_first:
        refresh(session)
    versions = select(QuestionnaireVersion.id).where(QuestionnaireVersion.key == sel.questionnaire)
    query = (
        select(QuestionnaireVersion.version, Unit.code, Field.code, AnswerCount.source, AnswerCount.month,
               AnswerCount.flag_reason, AnswerCount.item_key, AnswerCount.code, func.sum(AnswerCount.n))
        .select_from(AnswerCount)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == AnswerCount.version_id)
        .outerjoin(Unit, Unit.id == AnswerCount.unit_id)
        .outerjoin(Field, Field.id == AnswerCount.field_id)
        .where(AnswerCount.version_id.in_(versions))
        .group_by(QuestionnaireVersion.version, Unit.code, Field.code, AnswerCount.source, AnswerCount.month,
                  AnswerCount.flag_reason, AnswerCount.item_key, AnswerCount.code)
    )
    if sel.since:
        query = query.where(AnswerCount.month >= sel.since)
    if sel.until:
        query = query.where(AnswerCount.month <= sel.until)
    if sel.unit:
        query = query.where(AnswerCount.unit_id.in_(_subtree(session, sel.unit)))
    if sel.field:
        query = query.where(AnswerCount.field_id == _field_id(session, sel.field))
    if sel.source:
        query = query.where(AnswerCount.source == sel.source)
    frame = pd.DataFrame(session.execute(query).all(),
                         columns=["version", "unit", "field", "source", "month", "flag_reason", "item", "code", "n"])
    return _finish(frame.assign(questionnaire=sel.questionnaire), sel.period)


def _month_aligned(sel: Selection) -> bool:
    starts = sel.since is None or sel.since.day == 1
    ends = sel.until is None or (pd.Timestamp(sel.until) + pd.Timedelta(days=1)).day == 1
    return starts and ends


def _finish(frame: pd.DataFrame, period: str, column: str = "month") -> pd.DataFrame:
    """Common typing: period labels, flagged, integer counts, no NULL labels."""
    if column in frame:
        frame["period"] = pd.PeriodIndex(pd.to_datetime(frame.pop(column)), freq=period) if len(frame) else pd.Series(dtype="period[M]")
    frame["flagged"] = frame["flag_reason"].notna()
    frame["n"] = frame["n"].astype("int64")
    frame["code"] = frame["code"].astype("int64")
    for col in ("unit", "field", "counter", "procedure"):
        if col in frame:
            frame[col] = frame[col].fillna("(không gắn)")
    return frame


def breakdown(session: Session, sel: Selection, by: Sequence[str], with_period: bool = False) -> pd.DataFrame:
    """Ad-hoc counts from the raw rows, grouped by response tags and/or answer items.

    `by` may name tags (unit, field, counter, procedure, channel, source, language, version)
    or item keys of the questionnaire (e.g. a demographic item); each item becomes a column
    holding its code. The database does the grouping; only cells come back.
    """
    _, questionnaire = questionnaire_for(session, sel.questionnaire)
    item_keys = {i.key for i in questionnaire.items if i.type in ("satisfaction", "single", "multiple", "number")}
    unknown = [b for b in by if b not in RAW_DIMENSIONS and b not in item_keys and b != "period"]
    if unknown:
        raise ReportError(f"unknown breakdown {unknown}: use {', '.join(RAW_DIMENSIONS)} or an item key of {sel.questionnaire}")
    first_flag = (select(ResponseFlag.response_id, func.min(ResponseFlag.reason).label("reason"))
                  .group_by(ResponseFlag.response_id).subquery())
    columns, joins = [], []
    tag = {
        "unit": Unit.code, "field": Field.code, "counter": Counter.code, "procedure": Procedure.code,
        "channel": Response.channel, "source": Response.source, "language": Response.language,
        "version": QuestionnaireVersion.version,
    }
    labels = []
    for b in by:
        if b in RAW_DIMENSIONS:
            columns.append(tag[b])
            labels.append(b)
        elif b in item_keys:
            other = aliased(Answer)
            joins.append((other, and_(other.response_id == Response.id, other.item_key == b)))
            columns.append(other.code)
            labels.append(b)
    if with_period:
        columns.append(Response.submitted_at)
        labels.append("submitted_at")
    query = (
        select(*columns, first_flag.c.reason, Answer.item_key, Answer.code, func.count())
        .select_from(Response)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.version_id)
        .join(Answer, Answer.response_id == Response.id)
        .outerjoin(first_flag, first_flag.c.response_id == Response.id)
        .outerjoin(Unit, Unit.id == Response.unit_id)
        .outerjoin(Field, Field.id == Response.field_id)
        .outerjoin(Counter, Counter.id == Response.counter_id)
        .outerjoin(Procedure, Procedure.id == Response.procedure_id)
        .where(QuestionnaireVersion.key == sel.questionnaire, Answer.code.is_not(None))
    )
    for alias, condition in joins:
        query = query.join(alias, condition)
    start, end = _day_bounds(sel)
    if start:
        query = query.where(Response.submitted_at >= start)
    if end:
        query = query.where(Response.submitted_at < end)
    if sel.unit:
        query = query.where(Response.unit_id.in_(_subtree(session, sel.unit)))
    if sel.field:
        query = query.where(Response.field_id == _field_id(session, sel.field))
    if sel.source:
        query = query.where(Response.source == sel.source)
    query = query.group_by(*columns, first_flag.c.reason, Answer.item_key, Answer.code)
    frame = pd.DataFrame(session.execute(query).all(), columns=[*labels, "flag_reason", "item", "code", "n"])
    if with_period:
        # day-resolution rows were grouped by timestamp: fold them into periods here
        frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True).dt.tz_localize(None)
        frame = _finish(frame, sel.period, column="submitted_at")
        keys = [c for c in frame.columns if c != "n"]
        frame = frame.groupby(keys, dropna=False, observed=True, sort=False)["n"].sum().reset_index()
    else:
        frame = _finish(frame, sel.period)
    return frame.assign(questionnaire=sel.questionnaire)


def standard_report(session: Session, sel: Selection, targets: Sequence[Target] | None = None) -> analysis_report.Report:
    """The report the Home Affairs office reads: figures by sel.by with intervals and verdicts."""
    _, questionnaire = questionnaire_for(session, sel.questionnaire)
    if not questionnaire.criteria or questionnaire.rollup is None:
        raise ReportError(f"questionnaire '{sel.questionnaire}' has no satisfaction criteria to report on")
    counts = counts_frame(session, sel)
    return analysis_report.standard_report(
        counts, questionnaire.structure(), questionnaire.rollup,
        by=list(sel.by), tree=unit_tree(session) if "unit" in sel.by else None,
        targets=load_targets() if targets is None else targets, kind=questionnaire.kind,
        include_flagged=sel.include_flagged,
    )
