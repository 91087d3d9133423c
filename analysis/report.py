"""The standard report: counts frame in → figure tables, verdicts and exclusions out.

One pass: tally the counts once at the finest grain asked for, then add field totals, coarser
periods and the unit tree by summing tallies, and only then compute percentages. The cost
therefore follows the number of cells, not the number of responses. Number formatting for
people (Vietnamese decimal comma) is the web layer's job; `format_pct_vi` is the one helper.
"""
from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from babel.numbers import format_percent

from analysis import figures as fig
from analysis.inference import MIN_N, funnel_limits
from analysis.targets import KIND_INDICATORS, P_TESTS, PeriodNeeded, Target, evaluate_targets
from questionnaires.loader import Rollup


@dataclass(frozen=True)
class Report:
    """Tables of one report; `method` is printed with it (DOMAIN.md §4: the roll-up is part of the figure)."""

    figures: pd.DataFrame
    verdicts: pd.DataFrame
    excluded: pd.DataFrame
    method: Mapping[str, Any] = field(default_factory=dict)

    def table(self, level: str) -> pd.DataFrame:
        """Rows of one level: criterion, element, overall_index, overall_item or comprehensive."""
        return self.figures[self.figures["level"] == level].reset_index(drop=True)

    def field_table(self) -> pd.DataFrame:
        """Field satisfaction (overall item) with the composite index beside it (§4)."""
        keys = [c for c in self.figures.columns if c not in (*fig.STATS, "level", "element", "item")]
        item = self.table("overall_item")[[*keys, "n", "pct", "ci_low", "ci_high"]]
        index = self.table("overall_index")[[*keys, "pct", "ci_low", "ci_high"]]
        return item.merge(index, on=keys, how="outer", suffixes=("", "_index"))


def describe_method(rollup: Rollup, *, level: float, alpha: float, min_n: int, include_flagged: bool) -> dict[str, Any]:
    """What the figures mean, in words a report footer can print."""
    return {
        "percentage": "share answering 4 or 5 among answers 1–5; 'no opinion' (0) is counted but not in the denominator",
        "element_rule": rollup.element,
        "overall_rule": rollup.overall,
        "weights": dict(rollup.weights),
        "overall_item": rollup.overall_item,
        "rollup_note": rollup.note.vi if rollup.note else None,
        "comparability": rollup.comparability.vi if rollup.comparability else None,
        "interval": f"Wilson {level:.0%}; indices use a conservative effective n (analysis/figures.py)",
        "verdict": f"exact one-sided binomial test, alpha={alpha}; n < {min_n}: 'Chưa đủ dữ liệu'; "
                   "Holm within each target; a target judges only figures of periods inside its own period",
        "p_values": dict(P_TESTS),
        "flagged": "included" if include_flagged else "excluded (see the excluded table)",
        "sources": "counter feedback and sampled survey are reported separately, never pooled",
    }


def standard_report(
    counts: pd.DataFrame,
    structure: pd.DataFrame | Iterable[Mapping[str, Any]],
    rollup: Rollup | Mapping[str, Any],
    *,
    by: Sequence[str] = ("unit", "field", "period"),
    tree: pd.DataFrame | None = None,
    targets: Sequence[Target] = (),
    kind: str | None = None,
    totals: Sequence[str] = ("field",),
    period_freq: str | None = None,
    responses: pd.DataFrame | None = None,
    include_flagged: bool = False,
    level: float = 0.95,
    alpha: float = 0.05,
    min_n: int = MIN_N,
) -> Report:
    """Figures by the `by` columns (+ totals, + every ancestor unit), verdicts and exclusions.

    `kind` (questionnaire kind) limits targets to the indicators the form measures, so a
    health target is never judged on SIPAS figures. `responses` (respondent frame) adds the
    comprehensive-satisfaction rows when the rollup asks for them.
    """
    rule, frame = fig.as_rollup(rollup), fig.as_structure(structure)
    items = [*frame["item"], *([rule.overall_item] if rule.overall_item else [])]
    tallies = _regroup(fig.tally(counts, by, items=items, include_flagged=include_flagged), totals, period_freq, tree)
    figures = fig.all_levels(tallies, frame, rule, level=level)
    if responses is not None and rule.comprehensive:
        comp = fig.comprehensive_tally(responses, by, set(frame["item"]), include_flagged=include_flagged)
        comp = fig.comprehensive_rows(_regroup(comp, totals, period_freq, tree), level=level)
        figures = pd.concat([figures, comp.reindex(columns=figures.columns)], ignore_index=True)
    indicators = KIND_INDICATORS.get(kind) if kind else None
    excluded = fig.exclusions(counts, by)
    method = describe_method(rule, level=level, alpha=alpha, min_n=min_n, include_flagged=include_flagged)
    try:
        verdicts = evaluate_targets(targets, figures, tree=tree, indicators=indicators, alpha=alpha, min_n=min_n)
    except PeriodNeeded as exc:  # pooled dates: no verdicts rather than misleading ones (figures stay)
        verdicts = evaluate_targets((), figures)
        method["verdicts_withheld"] = str(exc)
    return Report(figures=figures, verdicts=verdicts, excluded=excluded, method=method)


def _regroup(
    tallies: pd.DataFrame, totals: Sequence[str], period_freq: str | None, tree: pd.DataFrame | None
) -> pd.DataFrame:
    """Coarsen periods, add totals and roll up the unit tree: all by summing tallies."""
    if period_freq:
        tallies = fig.coarsen_period(tallies, period_freq)
    for column in totals:
        if column in tallies:
            tallies = fig.add_totals(tallies, column)
    if tree is not None and "unit" in tallies:
        tallies = fig.roll_up(tallies, tree)
    return tallies


def funnel_table(
    figures: pd.DataFrame, threshold: float, *, level: str = "overall_item", min_n: int = MIN_N
) -> pd.DataFrame:
    """Rows of one level with 95% and 99.8% funnel limits around a target (percent) and a zone."""
    rows = figures[(figures["level"] == level) & (figures["n_eff"] >= min_n)].reset_index(drop=True)
    limits = funnel_limits(rows["n_eff"], threshold / 100).drop(columns="n") * 100
    pct = rows["pct"]
    zone = np.select(
        [pct > limits["hi998"], pct > limits["hi95"], pct < limits["lo998"], pct < limits["lo95"]],
        ["above_99.8", "above_95", "below_99.8", "below_95"], "within",
    )
    return pd.concat([rows, limits], axis=1).assign(target=threshold, zone=zone)


def _plain(value: Any) -> Any:
    """A JSON-able scalar: Periods and timestamps as text, missing as None, numpy as Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Period, pd.Timestamp)):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-able dicts (for the API and templates)."""
    columns = list(frame.columns)
    return [{c: _plain(v) for c, v in zip(columns, row)} for row in frame.itertuples(index=False, name=None)]


def to_csv(frame: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """CSV text, or a UTF-8 file with BOM so Excel shows Vietnamese correctly."""
    if path is None:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return buffer.getvalue()
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return None


def format_pct_vi(value: float | None, digits: int = 1) -> str:
    """92.5 → '92,5%' (Vietnamese decimal comma); missing → '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format_percent(value / 100, format="#,##0." + "0" * digits + "%" if digits else "#,##0%", locale="vi_VN")
