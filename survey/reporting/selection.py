"""What a report is asked for, and the query pieces every reader shares.

A Selection (questionnaire, dates, unit subtree, field, source, grouping) is resolved once
into a Scope (versions, unit ids, items); the helpers here filter and label rows the same way
for the standard report, breakdowns and exclusions. A unit means its whole subtree; days and
months are Vietnam time.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session, aliased

from questionnaires.loader import CODED_TYPES, Questionnaire

from .. import catalog
from ..models import (
    Answer,
    AnswerCount,
    Counter,
    Field,
    Procedure,
    QuestionnaireVersion,
    Response,
    ResponseSignature,
    Unit,
)
from .counts import VN, local_month, next_month

TAGS = ("unit", "field", "counter", "procedure", "channel", "source", "language", "version")


COUNT_DIMS = frozenset({"unit", "field", "source", "version", "period"})  # what answer_counts keeps


PERIODS = {"M": "month", "Q": "quarter", "Y": "year"}


SOURCES = ("feedback", "sample")


LEVELS = {  # --level of an export → figure levels
    "criterion": ("criterion",),
    "element": ("element",),
    "overall": ("overall_index", "overall_item", "comprehensive"),
    "all": ("criterion", "element", "overall_index", "overall_item", "comprehensive"),
}


UNTAGGED = "(không gắn)"  # a response without that tag (e.g. no unit): its own group, never dropped


FLAGGED = "(flagged)"  # flag_reason of flagged cells summed over their reasons (see stored_cells)


TAG_COLUMNS = {
    "unit": Response.unit_id, "field": Response.field_id, "counter": Response.counter_id,
    "procedure": Response.procedure_id, "channel": Response.channel, "source": Response.source,
    "language": Response.language, "version": Response.version_id,
}


SIGNATURE_COLUMNS = {
    "unit": ResponseSignature.unit_id, "field": ResponseSignature.field_id, "counter": ResponseSignature.counter_id,
    "procedure": ResponseSignature.procedure_id, "channel": ResponseSignature.channel, "source": ResponseSignature.source,
    "language": ResponseSignature.language, "version": ResponseSignature.version_id,
}


COUNT_COLUMNS = {
    "unit": AnswerCount.unit_id, "field": AnswerCount.field_id, "source": AnswerCount.source,
    "version": AnswerCount.version_id,
}


class ReportError(ValueError):
    """A request the data cannot answer (unknown questionnaire, unit, item…): says which."""


@dataclass(frozen=True)
class Selection:
    """What a report covers. Dates are inclusive Vietnam-time days; unit means the unit's whole subtree."""

    questionnaire: str
    since: date | None = None
    until: date | None = None
    unit: str | None = None
    field: str | None = None
    source: str | None = None
    include_flagged: bool = False
    by: Sequence[str] = ("unit", "field", "period")
    period: str = "M"


@dataclass(frozen=True)
class Scope:
    """A Selection checked against the database: what to filter on, and the questionnaire."""

    sel: Selection
    questionnaire: Questionnaire
    versions: tuple[QuestionnaireVersion, ...]
    unit_ids: Select | None
    field_id: int | None

    @property
    def version_ids(self) -> tuple[int, ...]:
        return tuple(v.id for v in self.versions)

    @property
    def items(self) -> list[str]:
        """The satisfaction items a report counts: criteria, then the overall item."""
        q = self.questionnaire
        return [i.key for i in q.criteria] + ([q.rollup.overall_item] if q.rollup and q.rollup.overall_item else [])


def resolve(session: Session, sel: Selection) -> Scope:
    """Check every part of a selection; a ReportError names the bad value and what is allowed."""
    rows = session.scalars(
        select(QuestionnaireVersion).where(QuestionnaireVersion.key == sel.questionnaire)
        .order_by(QuestionnaireVersion.version)
    ).all()
    if not rows:
        known = ", ".join(r.key for r in catalog.list_latest(session)) or "none published"
        raise ReportError(f"unknown questionnaire '{sel.questionnaire}' (published: {known})")
    questionnaire = catalog.definition(rows[-1])
    if sel.period not in PERIODS:
        raise ReportError(f"unknown period '{sel.period}': use {', '.join(f'{k} ({v})' for k, v in PERIODS.items())}")
    if sel.source is not None and sel.source not in SOURCES:
        raise ReportError(f"unknown source '{sel.source}': use {' or '.join(SOURCES)}")
    if sel.since and sel.until and sel.since > sel.until:
        raise ReportError(f"the date range ends ({sel.until:%d/%m/%Y}) before it starts ({sel.since:%d/%m/%Y})")
    coded = {i.key for i in questionnaire.items if i.type in CODED_TYPES}
    unknown = [b for b in sel.by if b not in TAGS and b != "period" and b not in coded]
    if unknown:
        raise ReportError(
            f"unknown breakdown {', '.join(unknown)}: use period, {', '.join(TAGS)} "
            f"or a coded item of {sel.questionnaire} (e.g. {', '.join(sorted(coded)[:4])})"
        )
    unit_ids = None
    if sel.unit:
        unit = session.scalar(select(Unit).where(Unit.code == sel.unit))
        if unit is None:
            raise ReportError(f"unknown unit code '{sel.unit}'{_close(sel.unit, session.scalars(select(Unit.code)))} "
                              "(flask --app wsgi counters list shows units with their codes)")
        unit_ids = select(Unit.id).where(Unit.path.startswith(unit.path))
    field_id = None
    if sel.field:
        field_id = session.scalar(select(Field.id).where(Field.code == sel.field))
        if field_id is None:
            known = ", ".join(session.scalars(select(Field.code).order_by(Field.code))) or "none loaded"
            raise ReportError(f"unknown field code '{sel.field}'{_close(sel.field, known.split(', '))} (known: {known})")
    return Scope(sel, questionnaire, tuple(rows), unit_ids, field_id)


def _close(name: str, known) -> str:
    """'; did you mean …?' for a mistyped code, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def unit_tree(session: Session) -> pd.DataFrame:
    """Every unit with its parent's code (the analysis roll-up input)."""
    parent = aliased(Unit)
    rows = session.execute(
        select(Unit.code, parent.code, Unit.name, Unit.kind).outerjoin(parent, Unit.parent_id == parent.id)
    ).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["unit", "parent", "name", "kind"])


# ---------------------------------------------------------------- dates


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=VN)


def split_range(since: date | None, until: date | None) -> tuple[tuple[date | None, date | None] | None, list[tuple[date | None, date | None]]]:
    """(whole months [first, last] for the counts, or None; partial ranges for the raw rows)."""
    first = since if since is None or since.day == 1 else next_month(since.replace(day=1))
    after = None if until is None else next_month(until.replace(day=1))
    last_end = None if until is None else (after if (until + timedelta(days=1)) == after else until.replace(day=1))
    # whole months are [first, last_end)
    if first is not None and last_end is not None and first >= last_end:
        return None, [(since, until)]
    edges = []
    if since is not None and first != since:
        edges.append((since, first - timedelta(days=1)))
    if until is not None and last_end is not None and last_end <= until:
        edges.append((last_end, until))
    last = None if last_end is None else _previous_month(last_end)
    return (first, last), edges


def _previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), 12 if month.month == 1 else month.month - 1, 1)


# ---------------------------------------------------------------- frames


def rows_frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.DataFrame.from_records(rows, columns=columns)


def fetch_rows(session: Session, query: Select) -> list[tuple]:
    """Plain tuples straight from the driver: the rows here are cells or responses by the
    hundred thousand, and building SQLAlchemy Row objects costs more than the query."""
    result = session.connection().execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _id_labels(session: Session, dim: str, ids: Sequence[Any]) -> dict[Any, Any]:
    """id → the label a report shows for a tag stored as an id."""
    wanted = [i for i in ids if i is not None and not pd.isna(i)]
    if not wanted:
        return {}
    if dim == "unit":
        query = select(Unit.id, Unit.code).where(Unit.id.in_(wanted))
    elif dim == "field":
        query = select(Field.id, Field.code).where(Field.id.in_(wanted))
    elif dim == "procedure":
        query = select(Procedure.id, Procedure.code).where(Procedure.id.in_(wanted))
    elif dim == "version":
        query = select(QuestionnaireVersion.id, QuestionnaireVersion.version).where(QuestionnaireVersion.id.in_(wanted))
    else:  # counter codes are unique within a unit only
        query = (select(Counter.id, Unit.code + "/" + Counter.code).join(Unit, Unit.id == Counter.unit_id)
                 .where(Counter.id.in_(wanted)))
    return dict(session.execute(query).all())


def label_groups(session: Session, frame: pd.DataFrame, scope: Scope, dims: Sequence[str]) -> pd.DataFrame:
    """Labels for ids, periods for months, flagged from flag_reason, integer counts."""
    out = {}
    for dim in dims:
        values = frame[dim]
        if dim in ("unit", "field", "counter", "procedure", "version"):
            uniques = values.dropna().unique().tolist()
            labels = _id_labels(session, dim, uniques)
            values = values.map(labels)
            # object first: a column of untagged rows only comes back as float NaN
            values = values.astype("Int64") if dim == "version" else values.astype("object").fillna(UNTAGGED).astype("category")
        elif dim == "period":
            values = _periods(values, scope.sel.period)
        elif dim in ("channel", "language"):
            values = values.fillna(UNTAGGED).astype("category")
        elif dim != "source":  # an item: its option code; NA = not answered
            values = values.astype("Int64")
        out[dim] = values
    out["source"] = frame["source"].astype("category")
    out["flag_reason"] = frame["flag_reason"].astype("object").where(frame["flag_reason"].notna(), None)
    out["flagged"] = frame["flag_reason"].notna()
    for column in [c for c in frame.columns if c not in (*dims, "source", "flag_reason")]:
        out[column] = frame[column]
    result = pd.DataFrame(out)
    for column in ("code", "n", "responses"):
        if column in result:
            result[column] = result[column].astype("int64")
    value = next((c for c in ("n", "responses") if c in result), None)
    if "period" in dims and scope.sel.period != "M" and value and len(result):
        # months folded into quarters or years: one row per cell again
        keys = [c for c in result.columns if c != value]
        result = result.groupby(keys, dropna=False, observed=True, sort=False)[value].sum().reset_index()
    return result


def _periods(months: pd.Series, freq: str) -> pd.Series:
    """Month labels ('2025-03' or date(2025, 3, 1)) → pandas Periods of `freq`."""
    if months.empty:
        return pd.Series(pd.PeriodIndex([], freq=freq), index=months.index)
    codes, uniques = pd.factorize(months)
    index = pd.PeriodIndex([pd.Period(str(m)[:7], freq="M").asfreq(freq) for m in uniques], freq=freq)
    return pd.Series(index[codes], index=months.index)


def counts_dims(sel: Selection) -> list[str]:
    dims = list(dict.fromkeys(d for d in sel.by if d != "source"))
    return dims


def maintained_filter(query: Select, table: type[AnswerCount] | type[ResponseSignature], scope: Scope,
                       first: date | None, last: date | None) -> Select:
    """The selection's months, unit subtree, field and source on a maintained table."""
    if first is not None:
        query = query.where(table.month >= first)
    if last is not None:
        query = query.where(table.month <= last)
    if scope.unit_ids is not None:
        query = query.where(table.unit_id.in_(scope.unit_ids))
    if scope.field_id is not None:
        query = query.where(table.field_id == scope.field_id)
    if scope.sel.source:
        query = query.where(table.source == scope.sel.source)
    return query


def filter_responses(query: Select, scope: Scope, since: date | None, until: date | None) -> Select:
    """The selection's filters on a query over responses."""
    query = query.where(Response.version_id.in_(scope.version_ids))
    if since is not None:
        query = query.where(Response.submitted_at >= _day_start(since))
    if until is not None:
        query = query.where(Response.submitted_at < _day_start(until + timedelta(days=1)))
    if scope.unit_ids is not None:
        query = query.where(Response.unit_id.in_(scope.unit_ids))
    if scope.field_id is not None:
        query = query.where(Response.field_id == scope.field_id)
    if scope.sel.source:
        query = query.where(Response.source == scope.sel.source)
    return query


def dimension_columns(query: Select, dims: Sequence[str]) -> tuple[Select, list[Any]]:
    """Group columns for dims over responses (tags as ids, months, item answers by outer join)."""
    columns = []
    for dim in dims:
        if dim == "period":
            columns.append(local_month(Response.submitted_at))
        elif dim in TAG_COLUMNS:
            columns.append(TAG_COLUMNS[dim])
        else:  # an item: outer join, so respondents who skipped it stay in (as NA)
            other = aliased(Answer)
            query = query.outerjoin(other, and_(other.response_id == Response.id, other.item_key == dim))
            columns.append(other.code)
    return query, columns
