"""Ad-hoc breakdowns (by channel, counter, procedure, language, any coded item) from one row
per response: the maintained response signatures for whole months, raw answers for the edge
days of a range, cross-tabulated with numpy (survey.reporting.signatures).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from .. import catalog
from ..models import Answer, Response, ResponseSignature
from .counts import PART_COLUMNS, first_flags, local_month, refresh, signature_layout
from .selection import (
    SIGNATURE_COLUMNS,
    TAG_COLUMNS,
    ReportError,
    Scope,
    Selection,
    counts_dims,
    fetch_rows,
    filter_responses,
    label_groups,
    maintained_filter,
    resolve,
    split_range,
)
from .signatures import Packed, cells, code_range, decode, packed_sums, packing, part_values, response_groups


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
    into integers (survey.reporting.signatures: grouped along the indexes, so the database streams
    it) and its first flag reason."""
    tags = [d for d in dims if d in TAG_COLUMNS and d != "source"]
    columns = [Response.id, *(TAG_COLUMNS[d] for d in tags), Response.source]
    if "period" in dims:
        columns.append(local_month(Response.submitted_at))
    parts = packed_sums(packed, max((p.part for p in packed), default=-1) + 1)
    query = filter_responses(select(*columns, *parts).join(Answer, Answer.response_id == Response.id), scope, since, until)
    # (version_id, submitted_at, id) is the order of the index the filters use, so the
    # database streams the groups; it identifies a response as well as id alone does
    query = query.where(Answer.code.is_not(None)).group_by(Response.version_id, Response.submitted_at, Response.id)
    rows = fetch_rows(session, query)
    names = ["response_id", *tags, "source", *(["period"] if "period" in dims else []), *(f"_part{i}" for i in range(len(parts)))]
    frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    frame = frame.assign(**{f"_part{i}": part_values(frame[f"_part{i}"]) for i in range(len(parts))})  # once, not per item
    flag = first_flags()
    reasons = dict(fetch_rows(session, filter_responses(select(flag.c.response_id, flag.c.reason).join(Response, Response.id == flag.c.response_id),
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
    tags = [d for d in dims if d in TAG_COLUMNS and d != "source"]
    columns = [sig.response_id, *(SIGNATURE_COLUMNS[d] for d in tags), sig.source]
    if "period" in dims:
        columns.append(type_coerce(sig.month, String()))  # text on SQLite, a date from PostgreSQL's driver
    needed = sorted({layout[p.key].part for layout in layouts.values() for p in packed if p.key in layout})
    query = select(*columns, sig.flag_reason, sig.version_id, *(getattr(sig, PART_COLUMNS[i]) for i in needed))
    query = maintained_filter(query.where(sig.version_id.in_(list(layouts))), sig, scope, first, last)
    rows = fetch_rows(session, query)
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
    months, edges = split_range(since, until)
    frames = [_stored_signatures(session, scope, dims, packed, layouts, *months)] if months is not None else []
    frames += [_signatures(session, scope, dims, packed, start, end) for start, end in edges]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def signature_cells(session: Session, scope: Scope, dims: Sequence[str], items: Sequence[str], since: date | None,
                     until: date | None, maintained: bool = True) -> pd.DataFrame:
    """Cells from per-response signatures (ids and month labels still to be labelled by label_groups)."""
    packed = _packing(scope, [*[d for d in dims if d not in TAG_COLUMNS and d != "period"], *items])
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
    dims = counts_dims(scope.sel)
    items = list(items) if items is not None else scope.items
    frame = signature_cells(session, scope, dims, items, sel.since, sel.until, maintained)
    return label_groups(session, frame, scope, dims)


def respondent_minimums(session: Session, scope: Scope, dims: Sequence[str]) -> pd.DataFrame:
    """Respondent frame reduced to each respondent's lowest criterion answer (1–5).

    Comprehensive satisfaction ("every answered item 4 or 5") depends only on that minimum,
    so one row per respondent (item = the first criterion) gives analysis the same result as
    all of their answers, at a fraction of the size.
    """
    criteria = [i.key for i in scope.questionnaire.criteria]
    item_dims = [d for d in dims if d not in TAG_COLUMNS and d != "period"]
    packed = _packing(scope, [*item_dims, *criteria])
    frame = _respondents(session, scope, dims, packed, scope.sel.since, scope.sel.until)
    lowest = np.full(len(frame), 9)
    for p in packed:
        if p.key in criteria:
            codes = decode(frame, p)
            lowest = np.where((codes >= 1) & (codes <= 5), np.minimum(lowest, codes), lowest)
    groups, position = response_groups(frame, dims, packed)
    out = groups.assign(response_id=frame["response_id"].to_numpy()[position], item=criteria[0], code=lowest[position])
    return label_groups(session, out[out["code"] <= 5].reset_index(drop=True), scope, dims)
