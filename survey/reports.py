"""The one adapter between stored rows and the analysis package.

Everything here reads the database and returns the DataFrames `analysis` expects (its module
docstring is the contract); every figure is computed in `analysis`. Three ways in:

- the standard report reads the maintained counts (answer_counts: month × version × unit ×
  field × source × flag × item × code), so its cost follows cells, not responses;
- breakdowns by anything else (channel, counter, procedure, language, a demographic item, any
  coded item) read the maintained response signatures (one narrow row per response, its coded
  answers packed into integers) and cross-tabulate them with numpy;
- flagged responses are counted exactly, by reason, from response_flags (a counts frame can
  only bound them from below).

Both maintained tables hold whole Vietnam-time months and are brought up to date before they
are read (survey.counts.refresh; the caller commits); a date range that cuts through a month
reads only those edge days from the raw rows. A unit means its whole subtree. Group columns
hold codes (unit code, field code, 'unit/counter', option code of an item); `name_columns`
adds the Vietnamese names for people.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, String, and_, func, literal, literal_column, select, type_coerce
from sqlalchemy.orm import Session, aliased

from analysis import report as analysis_report
from analysis.targets import Target
from questionnaires.loader import CODED_TYPES, Questionnaire

from . import catalog, targets_store
from .counts import PART_COLUMNS, VN, first_flags, local_month, next_month, refresh, signature_layout
from .models import Answer, AnswerCount, Counter, Field, Procedure, QuestionnaireVersion, Response, ResponseSignature, Unit
from .signatures import Packed, cells, code_range, decode, packed_sums, packing, part_values, response_groups

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
FLAGGED = "(flagged)"  # flag_reason of flagged cells summed over their reasons (see _stored_cells)

_TAG_COLUMNS = {
    "unit": Response.unit_id, "field": Response.field_id, "counter": Response.counter_id,
    "procedure": Response.procedure_id, "channel": Response.channel, "source": Response.source,
    "language": Response.language, "version": Response.version_id,
}
_SIGNATURE_COLUMNS = {
    "unit": ResponseSignature.unit_id, "field": ResponseSignature.field_id, "counter": ResponseSignature.counter_id,
    "procedure": ResponseSignature.procedure_id, "channel": ResponseSignature.channel, "source": ResponseSignature.source,
    "language": ResponseSignature.language, "version": ResponseSignature.version_id,
}
_COUNT_COLUMNS = {
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


def _split_range(since: date | None, until: date | None) -> tuple[tuple[date | None, date | None] | None, list[tuple[date | None, date | None]]]:
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


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.DataFrame.from_records(rows, columns=columns)


def _fetch(session: Session, query: Select) -> list[tuple]:
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


def _finish(session: Session, frame: pd.DataFrame, scope: Scope, dims: Sequence[str]) -> pd.DataFrame:
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


def _counts_dims(sel: Selection) -> list[str]:
    dims = list(dict.fromkeys(d for d in sel.by if d != "source"))
    return dims


def counts_frame(session: Session, sel: Selection, items: Sequence[str] | None = None, refresh_first: bool = True,
                 flagged_codes: bool = True) -> pd.DataFrame:
    """Counts frame for the standard report from the maintained counts (month resolution).

    Only the satisfaction items are read (or `items`). A date range that does not start and
    end on month boundaries reads its partial edge months from the raw rows, so a custom
    range is never silently widened to whole months. `refresh_first` brings the counts up to
    date first; that writes when responses arrived since, and the caller commits.
    `flagged_codes=False` sums flagged cells over reasons and codes (see _stored_cells).
    """
    scope = resolve(session, sel)
    dims = _counts_dims(sel)
    extra = [d for d in dims if d not in COUNT_DIMS]
    if extra:
        raise ReportError(f"the maintained counts have no {', '.join(extra)}: use breakdown() for that")
    items = list(items) if items is not None else scope.items
    if refresh_first:
        refresh(session)
    months, edges = _split_range(sel.since, sel.until)
    frames = []
    if months is not None:
        frames.append(_stored_cells(session, scope, dims, items, *months, flagged_codes=flagged_codes))
    for since, until in edges:
        frames.append(_signature_cells(session, scope, dims, items, since, until, maintained=False))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        keys = [*dims, "source", "flag_reason", "item", "code"]
        frame = frame.groupby(keys, dropna=False, sort=False)["n"].sum().reset_index()
    return _finish(session, frame, scope, dims)


def _maintained_filter(query: Select, table: type[AnswerCount] | type[ResponseSignature], scope: Scope,
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


def _stored_cells(session: Session, scope: Scope, dims: list[str], items: list[str], first: date | None,
                  last: date | None, flagged_codes: bool = True) -> pd.DataFrame:
    """Cells of answer_counts, summed over the dimensions not asked for (if any).

    Without `flagged_codes` the flagged cells come summed over their reasons and codes
    (flag_reason FLAGGED, code 0): a report that leaves flagged responses out only needs how
    many answers it left out (exact counts by reason come from response_flags), and flagged
    cells, a handful of responses spread over reasons and codes, are half of all cells at a
    million responses and still growing.
    """
    # the month as text: no per-row date parsing on SQLite (PostgreSQL's driver returns dates)
    group = {"period": type_coerce(AnswerCount.month, String()), **_COUNT_COLUMNS}
    columns = [group[d] for d in dims]
    # grouping columns in the order of ix_answer_counts_report, so the database need not sort
    order = [group[d] for d in ("period", "unit", "field") if d in dims] + [group[d] for d in ("version",) if d in dims]
    whole_grain = {"unit", "field", "period"} <= set(dims) and ("version" in dims or len(scope.versions) == 1)

    def where(query: Select) -> Select:
        query = query.where(AnswerCount.version_id.in_(scope.version_ids), AnswerCount.item_key.in_(items))
        return _maintained_filter(query, AnswerCount, scope, first, last)

    names = [*dims, "source", "flag_reason", "item", "code", "n"]
    cells = [*columns, AnswerCount.source, AnswerCount.flag_reason, AnswerCount.item_key, AnswerCount.code]
    if whole_grain:  # answer_counts has one row per cell: nothing to sum
        query = where(select(*cells, AnswerCount.n))
    else:
        query = where(select(*cells, func.sum(AnswerCount.n))).group_by(*order, AnswerCount.source, AnswerCount.item_key,
                                                                          AnswerCount.flag_reason, AnswerCount.code)
    if flagged_codes:
        return _frame(_fetch(session, query), names)
    flagged = where(select(*columns, AnswerCount.source, literal(FLAGGED, String()), AnswerCount.item_key,
                           literal_column("0"), func.sum(AnswerCount.n)))
    flagged = flagged.where(AnswerCount.flag_reason.is_not(None)).group_by(*order, AnswerCount.source, AnswerCount.item_key)
    rows = _fetch(session, query.where(AnswerCount.flag_reason.is_(None))) + _fetch(session, flagged)
    return _frame(rows, names)


def _filtered(query: Select, scope: Scope, since: date | None, until: date | None) -> Select:
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


def _dimension_columns(query: Select, dims: Sequence[str]) -> tuple[Select, list[Any]]:
    """Group columns for dims over responses (tags as ids, months, item answers by outer join)."""
    columns = []
    for dim in dims:
        if dim == "period":
            columns.append(local_month(Response.submitted_at))
        elif dim in _TAG_COLUMNS:
            columns.append(_TAG_COLUMNS[dim])
        else:  # an item: outer join, so respondents who skipped it stay in (as NA)
            other = aliased(Answer)
            query = query.outerjoin(other, and_(other.response_id == Response.id, other.item_key == dim))
            columns.append(other.code)
    return query, columns


def _packing(scope: Scope, keys: Sequence[str]) -> list[Packed]:
    """Bit fields for the items, sized from every pooled version's codes."""
    versions = [catalog.definition(v) for v in scope.versions]
    fields = []
    for key in dict.fromkeys(keys):
        found = [r for q in versions if (r := code_range(q, key))]
        if not found:
            raise ReportError(f"'{key}' is not a coded item of {scope.sel.questionnaire}")
        fields.append((key, min(f[0] for f in found), max(f[1] for f in found), any(f[2] for f in found)))
    try:
        return packing(fields)
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def _signatures(session: Session, scope: Scope, dims: Sequence[str], packed: list[Packed], since: date | None,
                until: date | None) -> pd.DataFrame:
    """One row per response computed from the raw answers: its tags, its coded answers packed
    into integers (survey.signatures: grouped along the indexes, so the database streams
    it) and its first flag reason."""
    tags = [d for d in dims if d in _TAG_COLUMNS and d != "source"]
    columns = [Response.id, *(_TAG_COLUMNS[d] for d in tags), Response.source]
    if "period" in dims:
        columns.append(local_month(Response.submitted_at))
    parts = packed_sums(packed, max((p.part for p in packed), default=-1) + 1)
    query = _filtered(select(*columns, *parts).join(Answer, Answer.response_id == Response.id), scope, since, until)
    # (version_id, submitted_at, id) is the order of the index the filters use, so the
    # database streams the groups; it identifies a response as well as id alone does
    query = query.where(Answer.code.is_not(None)).group_by(Response.version_id, Response.submitted_at, Response.id)
    rows = _fetch(session, query)
    names = ["response_id", *tags, "source", *(["period"] if "period" in dims else []), *(f"_part{i}" for i in range(len(parts)))]
    frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    frame = frame.assign(**{f"_part{i}": part_values(frame[f"_part{i}"]) for i in range(len(parts))})  # once, not per item
    flag = first_flags()
    reasons = dict(_fetch(session, _filtered(select(flag.c.response_id, flag.c.reason).join(Response, Response.id == flag.c.response_id),
                                             scope, since, until)))
    return frame.assign(flag_reason=frame["response_id"].map(reasons))


def _layouts(scope: Scope, packed: list[Packed]) -> dict[int, dict[str, Packed]] | None:
    """Each pooled version's stored signature layout, or None when some version's stored
    signatures lack an item asked for (its layout did not fit: read the raw answers)."""
    layouts = {}
    for version in scope.versions:
        q = catalog.definition(version)
        layout = signature_layout(q)
        if layout is None or any(p.key not in layout and code_range(q, p.key) for p in packed):
            return None
        layouts[version.id] = layout
    return layouts


def _stored_signatures(session: Session, scope: Scope, dims: Sequence[str], packed: list[Packed],
                       layouts: dict[int, dict[str, Packed]], first: date | None, last: date | None) -> pd.DataFrame:
    """The same rows as _signatures for the whole months [first, last], read from
    response_signatures and repacked from each version's layout into `packed`."""
    sig = ResponseSignature
    tags = [d for d in dims if d in _TAG_COLUMNS and d != "source"]
    columns = [sig.response_id, *(_SIGNATURE_COLUMNS[d] for d in tags), sig.source]
    if "period" in dims:
        columns.append(type_coerce(sig.month, String()))  # text on SQLite, a date from PostgreSQL's driver
    needed = sorted({layout[p.key].part for layout in layouts.values() for p in packed if p.key in layout})
    query = select(*columns, sig.flag_reason, sig.version_id, *(getattr(sig, PART_COLUMNS[i]) for i in needed))
    query = _maintained_filter(query.where(sig.version_id.in_(list(layouts))), sig, scope, first, last)
    rows = _fetch(session, query)
    head = ["response_id", *tags, "source", *(["period"] if "period" in dims else [])]
    names = [*head, "flag_reason", "_version", *(PART_COLUMNS[i] for i in needed)]
    frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    if "period" in dims and len(frame):  # 'YYYY-MM', as local_month gives for the raw rows
        codes, uniques = pd.factorize(frame["period"])
        frame["period"] = np.array([str(m)[:7] for m in uniques], dtype=object)[codes]
    stored = {i: frame[PART_COLUMNS[i]].to_numpy(dtype=np.int64) for i in needed}
    version = frame["_version"].to_numpy()
    parts = [np.zeros(len(frame), dtype=np.int64) for _ in range(max((p.part for p in packed), default=-1) + 1)]
    for version_id, layout in layouts.items():
        rows_of = version == version_id
        if not rows_of.any():
            continue
        for p in packed:
            s = layout.get(p.key)
            if s is None:  # not an item of this version: not answered
                continue
            field = (stored[s.part][rows_of] >> s.shift) & ((1 << s.width) - 1)
            if s.multiple:
                value = field << (s.low - p.low)
            elif p.multiple:  # single in this version, multiple in another: one bit
                value = np.where(field == 0, 0, np.left_shift(1, np.maximum(field + s.low - 1 - p.low, 0)))
            else:
                value = np.where(field == 0, 0, field + s.low - p.low)
            parts[p.part][rows_of] |= value << p.shift
    return frame[head].assign(**{f"_part{i}": part for i, part in enumerate(parts)}, flag_reason=frame["flag_reason"])


def _respondents(session: Session, scope: Scope, dims: Sequence[str], packed: list[Packed], since: date | None,
                 until: date | None, maintained: bool = True) -> pd.DataFrame:
    """One row per response with coded answers: tags, packed answers (`packed`), first flag reason.

    Whole months come from the maintained signatures, brought up to date first (that writes
    when responses arrived since; the caller commits), partial months at the ends of the range
    from the raw rows: each response lies in one month, so the two never overlap.
    `maintained=False`, or a version whose signatures lack an item asked for, reads only the
    raw rows.
    """
    layouts = _layouts(scope, packed) if maintained else None
    if layouts is None:
        return _signatures(session, scope, dims, packed, since, until)
    refresh(session)
    months, edges = _split_range(since, until)
    frames = [_stored_signatures(session, scope, dims, packed, layouts, *months)] if months is not None else []
    frames += [_signatures(session, scope, dims, packed, start, end) for start, end in edges]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _signature_cells(session: Session, scope: Scope, dims: Sequence[str], items: Sequence[str], since: date | None,
                     until: date | None, maintained: bool = True) -> pd.DataFrame:
    """Cells from per-response signatures (ids and month labels still to be labelled by _finish)."""
    packed = _packing(scope, [*[d for d in dims if d not in _TAG_COLUMNS and d != "period"], *items])
    frame = _respondents(session, scope, dims, packed, since, until, maintained)
    return cells(frame, dims, packed, items)


def breakdown(session: Session, sel: Selection, by: Sequence[str], items: Sequence[str] | None = None,
              maintained: bool = True) -> pd.DataFrame:
    """Ad-hoc counts frame grouped by response tags and/or answer items, from one row per response.

    `by` may name tags (unit, field, counter, procedure, channel, source, language, version),
    period, or coded item keys of the questionnaire (e.g. a demographic item such as gender);
    an item column holds the chosen option code (NA: not answered; a multiple-choice item
    counts a respondent under each option chosen). `items` are the items counted (default:
    the satisfaction items). Whole months are read from the maintained signatures, which are
    brought up to date first (the caller commits); `maintained=False` reads only raw rows.
    """
    scope = resolve(session, replace(sel, by=tuple(by)))
    dims = _counts_dims(scope.sel)
    items = list(items) if items is not None else scope.items
    frame = _signature_cells(session, scope, dims, items, sel.since, sel.until, maintained)
    return _finish(session, frame, scope, dims)


def respondent_minimums(session: Session, scope: Scope, dims: Sequence[str]) -> pd.DataFrame:
    """Respondent frame reduced to each respondent's lowest criterion answer (1–5).

    Comprehensive satisfaction ("every answered item 4 or 5") depends only on that minimum,
    so one row per respondent (item = the first criterion) gives analysis the same result as
    all of their answers, at a fraction of the size.
    """
    criteria = [i.key for i in scope.questionnaire.criteria]
    item_dims = [d for d in dims if d not in _TAG_COLUMNS and d != "period"]
    packed = _packing(scope, [*item_dims, *criteria])
    frame = _respondents(session, scope, dims, packed, scope.sel.since, scope.sel.until)
    lowest = np.full(len(frame), 9)
    for p in packed:
        if p.key in criteria:
            codes = decode(frame, p)
            lowest = np.where((codes >= 1) & (codes <= 5), np.minimum(lowest, codes), lowest)
    groups, position = response_groups(frame, dims, packed)
    out = groups.assign(response_id=frame["response_id"].to_numpy()[position], item=criteria[0], code=lowest[position])
    return _finish(session, out[out["code"] <= 5].reset_index(drop=True), scope, dims)


def flagged_responses(session: Session, sel: Selection) -> pd.DataFrame:
    """Exact number of flagged responses by sel.by (+ source) and reason, same filters as the report.

    A response with several flags is counted once, under its first reason (alphabetical), the
    same rule the maintained counts use, so the rows add up to the responses left out.
    """
    scope = resolve(session, sel)
    dims = _counts_dims(sel)
    flag = first_flags()
    base = select().select_from(Response).join(flag, flag.c.response_id == Response.id)
    base, columns = _dimension_columns(base, dims)
    groups = [*columns, Response.source, flag.c.reason]
    query = _filtered(base.add_columns(*groups, func.count()), scope, sel.since, sel.until)
    frame = _frame(_fetch(session, query.group_by(*groups)), [*dims, "source", "flag_reason", "responses"])
    out = _finish(session, frame, scope, dims).drop(columns="flagged")
    return out.astype({"responses": "int64"})


def _exclusions(flagged: pd.DataFrame, dims: list[str], excluded: bool) -> pd.DataFrame:
    """Exact flagged responses by group and reason; `excluded` says whether the figures left them out."""
    return flagged.assign(excluded=excluded).sort_values([*dims, "source", "flag_reason"], ignore_index=True)


def standard_report(session: Session, sel: Selection, targets: Sequence[Target] | None = None) -> analysis_report.Report:
    """The report the Home Affairs office reads: figures by sel.by with intervals and verdicts.

    Targets come from the database (`flask --app wsgi targets load`), or from the bundled files
    while none are loaded; the method says which. `excluded` counts flagged responses exactly.
    """
    scope = resolve(session, sel)
    q = scope.questionnaire
    if not q.criteria or q.rollup is None:
        raise ReportError(f"questionnaire '{sel.questionnaire}' has no satisfaction criteria to report on")
    dims = _counts_dims(sel)
    raw = [d for d in dims if d not in COUNT_DIMS]
    counts = breakdown(session, sel, dims) if raw else counts_frame(session, sel, flagged_codes=sel.include_flagged)
    responses = respondent_minimums(session, scope, dims) if q.rollup.comprehensive else None
    tree = None
    if "unit" in dims:
        tree = unit_tree(session)
        if (counts["unit"] == UNTAGGED).any():
            tree = pd.concat([tree, pd.DataFrame([{"unit": UNTAGGED, "parent": None, "name": "Không gắn đơn vị", "kind": "other"}])],
                             ignore_index=True)
    if targets is None:
        targets, origin = targets_store.report_targets(session)
    else:
        origin = f"{len(targets)} target(s) given by the caller"
    report = analysis_report.standard_report(
        counts, q.structure(), q.rollup, by=dims, tree=tree, targets=targets, kind=q.kind,
        responses=responses, include_flagged=sel.include_flagged,
    )
    excluded = _exclusions(flagged_responses(session, sel), dims, excluded=not sel.include_flagged)
    method = {
        **report.method,
        "selection": {k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, (list, tuple)) else v)
                      for k, v in asdict(sel).items()},
        "questionnaire": f"{q.key} (versions pooled: {len(scope.version_ids)}); {q.source_document}",
        "dates": "days and months in Vietnam time (UTC+7); a unit includes every unit below it",
        "data": ("maintained response signatures (one row per response, its coded answers packed), cross-tabulated by "
                 + ", ".join(raw) + ", plus raw answers for any partial month at the ends of the range") if raw else
                "maintained counts (answer_counts), plus raw answers for any partial month at the ends of the range",
        "targets": origin,
        "excluded_counts": "exact, from response_flags: each flagged response once, under its first reason (alphabetical)",
    }
    return replace(report, excluded=excluded, method=method)


def name_columns(session: Session, frame: pd.DataFrame, questionnaire: Questionnaire) -> pd.DataFrame:
    """The frame with Vietnamese names beside the codes (unit_name, field_name, element_name, item_label)."""
    out = frame.copy()
    if "unit" in out:
        names = dict(session.execute(select(Unit.code, Unit.name)).all())
        out.insert(out.columns.get_loc("unit") + 1, "unit_name", out["unit"].astype("object").map(names))
    if "field" in out:
        names = {**dict(session.execute(select(Field.code, Field.name_vi)).all()), "all": "Tất cả lĩnh vực"}
        out.insert(out.columns.get_loc("field") + 1, "field_name", out["field"].astype("object").map(names))
    if "element" in out:
        titles = {s.key: s.title.vi for s in questionnaire.sections}
        out.insert(out.columns.get_loc("element") + 1, "element_name", out["element"].astype("object").map(titles))
    if "item" in out:
        labels = {i.key: i.label.vi for i in questionnaire.items}
        out.insert(out.columns.get_loc("item") + 1, "item_label", out["item"].astype("object").map(labels))
    return out


@dataclass(frozen=True)
class Export:
    """What a report page shows and `report export` writes: named figures, verdicts, exclusions."""

    questionnaire: Questionnaire
    figures: pd.DataFrame
    verdicts: pd.DataFrame
    excluded: pd.DataFrame
    method: dict[str, Any]
    messages: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        by_reason = self.excluded.groupby("flag_reason")["responses"].sum() if len(self.excluded) else pd.Series(dtype="int64")
        return {
            "questionnaire": {"key": self.questionnaire.key, "title": self.questionnaire.title.vi},
            "method": self.method,
            "messages": list(self.messages),
            "figures": analysis_report.to_records(self.figures),
            "verdicts": analysis_report.to_records(self.verdicts),
            "exclusions": {
                "excluded": bool(self.method["flagged"].startswith("excluded")),
                "responses": int(by_reason.sum()),
                "by_reason": {str(k): int(v) for k, v in by_reason.items()},
                "rows": analysis_report.to_records(self.excluded),
            },
        }


def export(session: Session, sel: Selection, level: str = "all") -> Export:
    """The standard report for people: figures of the chosen level with names beside the codes."""
    if level not in LEVELS:
        raise ReportError(f"unknown level '{level}': use {', '.join(LEVELS)}")
    report = standard_report(session, sel)
    q = resolve(session, sel).questionnaire
    figures = report.figures[report.figures["level"].isin(LEVELS[level])].reset_index(drop=True)
    messages = []
    if report.figures.empty:
        window = " ".join(filter(None, [f"from {sel.since:%d/%m/%Y}" if sel.since else "",
                                        f"to {sel.until:%d/%m/%Y}" if sel.until else ""]))
        filters = ", ".join(f"{k} {v}" for k, v in (("unit", sel.unit), ("field", sel.field), ("source", sel.source)) if v)
        messages.append(f"No responses to {sel.questionnaire} match this selection ({window or 'all dates'}"
                        f"{'; ' + filters if filters else ''}): the export is empty. Widen the dates or the filters.")
    return Export(q, name_columns(session, figures, q), name_columns(session, report.verdicts, q),
                  report.excluded, dict(report.method), tuple(messages))
