"""The standard report: stored rows in, the analysis package's report out.

This package is the one adapter between stored rows and `analysis`. Everything in it reads the database and returns the DataFrames `analysis` expects (its module
docstring is the contract); every figure is computed in `analysis`. Three ways in:

- the standard report reads the maintained counts (answer_counts: month × version × unit ×
  field × source × flag × item × code), so its cost follows cells, not responses;
- breakdowns by anything else (channel, counter, procedure, language, a demographic item, any
  coded item) read the maintained response signatures (one narrow row per response, its coded
  answers packed into integers) and cross-tabulate them with numpy;
- flagged responses are counted exactly, by reason, from response_flags (a counts frame can
  only bound them from below).

Both maintained tables hold whole Vietnam-time months and are brought up to date before they
are read (survey.reporting.counts.refresh; the caller commits); a date range that cuts through a month
reads only those edge days from the raw rows. A unit means its whole subtree. Group columns
hold codes (unit code, field code, 'unit/counter', option code of an item); `name_columns`
adds the Vietnamese names for people.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import (
    Select,
    String,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from analysis import report as analysis_report
from analysis.targets import Target
from questionnaires.loader import Questionnaire, compare_versions

from .. import catalog
from ..models import AnswerCount, Field, QuestionnaireVersion, Unit
from . import targets as targets_store
from .breakdowns import breakdown, respondent_minimums, signature_cells
from .counts import refresh, unindexed
from .exclusions import exclusion_rows, flagged_responses
from .selection import (
    COUNT_COLUMNS,
    COUNT_DIMS,
    FLAGGED,
    LEVELS,
    UNTAGGED,
    ReportError,
    Scope,
    Selection,
    counts_dims,
    fetch_rows,
    label_groups,
    maintained_filter,
    resolve,
    rows_frame,
    split_range,
    unit_tree,
)


def counts_frame(session: Session, sel: Selection, items: Sequence[str] | None = None, refresh_first: bool = True,
                 flagged_codes: bool = True) -> pd.DataFrame:
    """Counts frame for the standard report from the maintained counts (month resolution).

    Only the satisfaction items are read (or `items`). A date range that does not start and
    end on month boundaries reads its partial edge months from the raw rows, so a custom
    range is never silently widened to whole months. `refresh_first` brings the counts up to
    date first; that writes when responses arrived since, and the caller commits.
    `flagged_codes=False` sums flagged cells over reasons and codes (see stored_cells).
    """
    scope = resolve(session, sel)
    dims = counts_dims(sel)
    extra = [d for d in dims if d not in COUNT_DIMS]
    if extra:
        raise ReportError(f"the maintained counts have no {', '.join(extra)}: use breakdown() for that")
    items = list(items) if items is not None else scope.items
    if refresh_first:
        refresh(session)
    months, edges = split_range(sel.since, sel.until)
    frames = []
    if months is not None:
        frames.append(stored_cells(session, scope, dims, items, *months, flagged_codes=flagged_codes))
    for since, until in edges:
        frames.append(signature_cells(session, scope, dims, items, since, until, maintained=False))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        keys = [*dims, "source", "flag_reason", "item", "code"]
        frame = frame.groupby(keys, dropna=False, sort=False)["n"].sum().reset_index()
    return label_groups(session, frame, scope, dims)


def stored_cells(session: Session, scope: Scope, dims: list[str], items: list[str], first: date | None,
                  last: date | None, flagged_codes: bool = True) -> pd.DataFrame:
    """Cells of answer_counts, summed over the dimensions not asked for (if any).

    Without `flagged_codes` the flagged cells come summed over their reasons and codes
    (flag_reason FLAGGED, code 0): a report that leaves flagged responses out only needs how
    many answers it left out (exact counts by reason come from response_flags), and flagged
    cells, a handful of responses spread over reasons and codes, are half of all cells at a
    million responses and still growing.
    """
    # the month as text: no per-row date parsing on SQLite (PostgreSQL's driver returns dates)
    group = {"period": type_coerce(AnswerCount.month, String()), **COUNT_COLUMNS}
    columns = [group[d] for d in dims]
    # grouping columns in the order of ix_answer_counts_report (by unit) or ix_answer_counts_grouped (summed
    # over units), so the database streams the groups instead of sorting them
    order = ([group[d] for d in ("period", "unit", "field", "version") if d in dims] if "unit" in dims
             else [group[d] for d in ("version", "period", "field") if d in dims])
    whole_grain = {"unit", "field", "period"} <= set(dims) and ("version" in dims or len(scope.versions) == 1)

    def where(query: Select) -> Select:
        query = query.where(AnswerCount.version_id.in_(scope.version_ids), AnswerCount.item_key.in_(items))
        return maintained_filter(query, AnswerCount, scope, first, last)

    names = [*dims, "source", "flag_reason", "item", "code", "n"]
    cells = [*columns, AnswerCount.source, AnswerCount.flag_reason, AnswerCount.item_key, AnswerCount.code]
    if whole_grain:  # answer_counts has one row per cell: nothing to sum
        query = where(select(*cells, AnswerCount.n))
    else:
        query = where(select(*cells, func.sum(AnswerCount.n))).group_by(*order, AnswerCount.source, AnswerCount.item_key,
                                                                          AnswerCount.flag_reason, AnswerCount.code)
    if flagged_codes:
        return rows_frame(fetch_rows(session, query), names)
    flagged = where(select(*columns, AnswerCount.source, literal(FLAGGED, String()), AnswerCount.item_key,
                           literal_column("0"), func.sum(AnswerCount.n)))
    # the flag filters are not index lookups: a lookup on flag_reason in the middle of the index breaks its order
    flag = unindexed(AnswerCount.flag_reason)
    flagged = flagged.where(flag.is_not(None)).group_by(*order, AnswerCount.source, AnswerCount.item_key)
    rows = fetch_rows(session, query.where(flag.is_(None))) + fetch_rows(session, flagged)
    return rows_frame(rows, names)


def standard_report(session: Session, sel: Selection, targets: Sequence[Target] | None = None) -> analysis_report.Report:
    """The report the Home Affairs office reads: figures by sel.by with intervals and verdicts.

    Targets come from the database (`flask --app wsgi targets load`), or from the bundled files
    while none are loaded; the method says which. `excluded` counts flagged responses exactly.
    """
    scope = resolve(session, sel)
    q = scope.questionnaire
    if not q.criteria or q.rollup is None:
        raise ReportError(f"questionnaire '{sel.questionnaire}' has no satisfaction criteria to report on")
    dims = counts_dims(sel)
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
    structure, rollup, versions_note = comparable_structure(session, scope)
    report = analysis_report.standard_report(
        counts, structure, rollup, by=dims, tree=tree, targets=targets, kind=q.kind,
        responses=responses, include_flagged=sel.include_flagged,
    )
    excluded = exclusion_rows(flagged_responses(session, sel), dims, excluded=not sel.include_flagged)
    method = {
        **report.method,
        "selection": {k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, (list, tuple)) else v)
                      for k, v in asdict(sel).items()},
        "questionnaire": f"{q.key} (versions pooled: {len(scope.version_ids)}); {q.source_document}",
        "versions": versions_note,
        "dates": "days and months in Vietnam time (UTC+7); a unit includes every unit below it",
        "data": ("maintained response signatures (one row per response, its coded answers packed), cross-tabulated by "
                 + ", ".join(raw) + ", plus raw answers for any partial month at the ends of the range") if raw else
                "maintained counts (answer_counts), plus raw answers for any partial month at the ends of the range",
        "targets": origin,
        "excluded_counts": "exact, from response_flags: each flagged response once, under its first reason (alphabetical)",
    }
    return replace(report, excluded=excluded, method=method)


def answered_versions(session: Session, scope: Scope) -> list[QuestionnaireVersion]:
    """The versions with responses in the selection, read from the maintained counts (by month)."""
    first = scope.sel.since.replace(day=1) if scope.sel.since else None
    last = scope.sel.until.replace(day=1) if scope.sel.until else None
    # one probe per version that stops at its first cell, not a DISTINCT over every cell of the range
    cell = maintained_filter(select(AnswerCount.id).where(AnswerCount.version_id == QuestionnaireVersion.id),
                             AnswerCount, scope, first, last)
    ids = set(session.scalars(select(QuestionnaireVersion.id).where(QuestionnaireVersion.id.in_(scope.version_ids),
                                                                     cell.exists())))
    return [v for v in scope.versions if v.id in ids]


def comparable_structure(session: Session, scope: Scope,
                         present: Sequence[QuestionnaireVersion] | None = None) -> tuple[list[dict[str, Any]], Any, str]:
    """Criteria and roll-up for a selection: when its responses answered several versions, only the
    items that mean the same in all of them (questionnaires.loader.compare_versions), and a note
    naming the ones left out, so figures never mix two different questions. `present`: the
    answered versions when the caller already read them (the dashboard reads all instruments' at once)."""
    q = scope.questionnaire
    present = answered_versions(session, scope) if present is None else list(present)
    if len(present) < 2:
        return q.structure(), q.rollup, "one version answered in this selection"
    same, changed = compare_versions([catalog.definition(v) for v in present])
    structure = [row for row in q.structure() if row["item"] in same]
    numbers = ", ".join(str(v.version) for v in present)
    if not structure:
        raise ReportError(f"no criterion of {q.key} means the same in versions {numbers}, which this selection "
                          "spans: report each version's dates separately (--since/--until)")
    rollup = q.rollup if q.rollup.overall_item in same else replace(q.rollup, overall_item=None)
    return structure, rollup, (f"versions {numbers} answered in this selection: only items that mean the same in all of "
                               f"them are compared; changed or new, left out: {', '.join(changed) or 'none'}")


def name_columns(session: Session, frame: pd.DataFrame, questionnaire: Questionnaire) -> pd.DataFrame:
    """The frame with Vietnamese names beside the codes (unit_name, field_name, element_name, item_label), and
    for items where they come from: item_ref (number in the official form) and item_origin (official, adapted
    or added by the product), so a reader can tell the official criteria from the product's questions."""
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
        refs = {i.key: i.ref for i in questionnaire.items}
        origins = {i.key: i.origin for i in questionnaire.items}
        out.insert(out.columns.get_loc("item_label") + 1, "item_ref", out["item"].astype("object").map(refs))
        out.insert(out.columns.get_loc("item_ref") + 1, "item_origin", out["item"].astype("object").map(origins))
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
    if "verdicts_withheld" in report.method:
        messages.append(f"Không có kết luận đạt/không đạt: thêm 'period' vào --by (ví dụ --by unit,field,period --period "
                        f"year). No verdicts: {report.method['verdicts_withheld']}.")
    if report.figures.empty:
        window = " ".join(filter(None, [f"from {sel.since:%d/%m/%Y}" if sel.since else "",
                                        f"to {sel.until:%d/%m/%Y}" if sel.until else ""]))
        filters = ", ".join(f"{k} {v}" for k, v in (("unit", sel.unit), ("field", sel.field), ("source", sel.source)) if v)
        messages.append(f"No responses to {sel.questionnaire} match this selection ({window or 'all dates'}"
                        f"{'; ' + filters if filters else ''}): the export is empty. Widen the dates or the filters.")
    return Export(q, name_columns(session, figures, q), name_columns(session, report.verdicts, q),
                  report.excluded, dict(report.method), tuple(messages))
