"""Targets as data (DOMAIN.md §5): YAML files → validated frozen objects → verdict rows.

A target says which figure it is about (indicator → level of the figures frame), where it
applies (scope: a unit and its whole subtree, or 'all'; field; optionally channel), when
(period) and what counts as met (comparator, threshold in percent). Files are validated once
at load; an error names the file, the target id and the problem, so an officer can fix a
plan's figure without reading code.

Matching a target to figure rows: scope 'all' matches every unit, a unit code matches that
unit and everything below it in the unit tree. field/channel 'all' (or absent) match only
rows that are totals over that dimension (value 'all', or no such column), so "TTHC ≥ 90%"
is judged on all fields together and never on the land field, which has its own 85% target.
A row matches a period when its period lies inside the target's period.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis.figures import ALL, ADDITIVE, STATS, unit_ancestors
from analysis.inference import MIN_N, difference_verdict, holm, verdict

TARGETS_DIR = Path(__file__).resolve().parent.parent / "targets"
COMPARATORS = frozenset({">=", ">", "higher_than_previous"})
# indicator → the figure level it is judged on (DOMAIN.md §4: field targets use the overall item)
INDICATORS = MappingProxyType({
    "sipas_service": "overall_index",
    "tthc": "overall_item",
    "field_satisfaction": "overall_item",
    "digital": "overall_item",
    "health": "overall_index",
    "education": "overall_index",
})
# questionnaire kind → indicators its figures can speak to
KIND_INDICATORS = MappingProxyType({
    "sipas": ("sipas_service", "tthc", "field_satisfaction", "digital"),
    "sipas-2023": ("sipas_service", "tthc", "field_satisfaction", "digital"),
    "counter": ("tthc", "field_satisfaction", "digital"),
    "health": ("health",),
    "education": ("education",),
})
_FIELDS = ("id", "indicator", "scope", "field", "comparator", "threshold", "period", "source")
_OPTIONAL = ("channel", "scope_name", "measure", "note", "verify")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")


class TargetError(ValueError):
    """An invalid target file: says which file, which target and what is wrong."""

    def __init__(self, source: str, target: str, problem: str) -> None:
        self.source, self.target, self.problem = source, target, problem
        super().__init__(f"{source}: target '{target}': {problem}")


@dataclass(frozen=True)
class Target:
    id: str
    indicator: str
    scope: str
    field: str
    comparator: str
    threshold: float | None
    period: str
    start: pd.Timestamp
    end: pd.Timestamp
    source: str
    measure: str
    channel: str | None = None
    scope_name: str | None = None
    note: str | None = None
    verify: str | None = None
    file: str = "<data>"


def _period_bounds(text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """'2025', '2025-03', '2025-Q2' or 'A/B' (inclusive) → (start, end) timestamps."""
    first, _, last = text.partition("/")
    last = last or first
    for part in (first, last):
        if not _PERIOD.match(part):
            raise ValueError(f"period {text!r}: use a year (2025), a month (2025-03), a quarter (2025-Q2) or 'from/to'")
    start, end = pd.Period(first).start_time, pd.Period(last).end_time
    if end < start:
        raise ValueError(f"period {text!r} ends before it starts")
    return start, end


def _build(raw: Any, file: str, index: int) -> Target:
    if not isinstance(raw, dict):
        raise TargetError(file, f"#{index + 1}", "each target must be a mapping of fields")
    tid = str(raw.get("id", f"#{index + 1}"))
    fail = lambda problem: TargetError(file, tid, problem)  # noqa: E731
    missing = [k for k in _FIELDS if k not in raw]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    unknown = sorted(set(raw) - set(_FIELDS) - set(_OPTIONAL))
    if unknown:
        raise fail(f"unknown field(s) {unknown}")
    if not _CODE.match(tid):
        raise fail("id must be lowercase letters, digits, '-' or '_'")
    if raw["indicator"] not in INDICATORS:
        raise fail(f"indicator {raw['indicator']!r} is not one of {sorted(INDICATORS)}")
    if raw["comparator"] not in COMPARATORS:
        raise fail(f"comparator {raw['comparator']!r} is not one of {sorted(COMPARATORS)}")
    threshold = raw["threshold"]
    if raw["comparator"] == "higher_than_previous":
        if threshold is not None:
            raise fail("'higher_than_previous' compares with the previous period; threshold must be null")
    elif isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100:
        raise fail(f"threshold must be a percentage between 0 and 100, got {threshold!r}")
    for key in ("scope", "field"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise fail(f"{key} must be a code or 'all'")
    if raw["indicator"] == "field_satisfaction" and raw["field"] == ALL:
        raise fail("a field_satisfaction target needs a field code (e.g. dat-dai), not 'all'")
    if not isinstance(raw["source"], str) or len(raw["source"].strip()) < 10:
        raise fail("source must quote the document and the sentence the target comes from")
    measure = raw.get("measure", INDICATORS[raw["indicator"]])
    if measure not in ("overall_index", "overall_item", "comprehensive"):
        raise fail(f"measure {measure!r} is not one of overall_index, overall_item, comprehensive")
    period = str(raw["period"])
    try:
        start, end = _period_bounds(period)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return Target(
        id=tid, indicator=raw["indicator"], scope=raw["scope"], field=raw["field"], comparator=raw["comparator"],
        threshold=None if threshold is None else float(threshold), period=period, start=start, end=end,
        source=" ".join(raw["source"].split()), measure=measure, channel=raw.get("channel"),
        scope_name=raw.get("scope_name"), note=raw.get("note"), verify=raw.get("verify"), file=file,
    )


def parse_targets(data: Any, file: str = "<data>") -> tuple[Target, ...]:
    """Validate one parsed file ({targets: [...]}) into frozen targets."""
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        raise TargetError(file, "(file)", "the file must be a mapping with a 'targets' list")
    return tuple(_build(raw, file, i) for i, raw in enumerate(data["targets"]))


def load_targets(paths: Iterable[str | Path] | None = None) -> tuple[Target, ...]:
    """Load and validate target files (default: every targets/*.yaml); ids must be unique."""
    files = sorted(TARGETS_DIR.glob("*.yaml")) if paths is None else [Path(p) for p in paths]
    seen: dict[str, str] = {}
    out: list[Target] = []
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise TargetError(path.name, "(file)", f"not valid YAML: {exc}") from None
        for target in parse_targets(data, path.name):
            if target.id in seen:
                raise TargetError(path.name, target.id, f"id already used in {seen[target.id]}")
            seen[target.id] = path.name
            out.append(target)
    return tuple(out)


def _dimension(figures: pd.DataFrame, column: str, value: str | None) -> np.ndarray:
    """Rows a target's field/channel value applies to (see module doc)."""
    if value in (None, ALL):
        return (figures[column] == ALL).to_numpy() if column in figures else np.ones(len(figures), bool)
    return (figures[column] == value).to_numpy() if column in figures else np.zeros(len(figures), bool)


def _row_bounds(periods: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(start, end) of each row's period; unparseable labels give NaT (never inside a target)."""
    if isinstance(periods.dtype, pd.PeriodDtype):
        return periods.dt.start_time, periods.dt.end_time
    parsed = {}
    for value in periods.dropna().unique():
        try:
            p = value if isinstance(value, pd.Period) else pd.Period(str(value))
            parsed[value] = (p.start_time, p.end_time)
        except ValueError:
            parsed[value] = (pd.NaT, pd.NaT)
    start = periods.map(lambda v: parsed.get(v, (pd.NaT, pd.NaT))[0])
    end = periods.map(lambda v: parsed.get(v, (pd.NaT, pd.NaT))[1])
    return start.astype("datetime64[ns]"), end.astype("datetime64[ns]")


def _test_counts(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Whole counts for exact tests: n = floor(n_eff), x = round(p·n) (exact for criteria)."""
    n = np.floor(rows["n_eff"].to_numpy(dtype=float) + 1e-9)
    return np.round(rows["pct"].to_numpy(dtype=float) / 100 * n), n


def _previous(rows: pd.DataFrame, figures: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The same figure one period earlier (NaN where there is none or periods are labels)."""
    cols = ["n_eff", "pct"]
    if "period" not in rows or not isinstance(rows["period"].dtype, pd.PeriodDtype):
        return pd.DataFrame(np.nan, index=rows.index, columns=cols)
    other = [k for k in keys if k != "period"]
    prior = figures[figures["level"] == rows["level"].iloc[0]] if len(rows) else figures.iloc[:0]
    prior = prior[[*other, "item", "period", *cols]].assign(period=prior["period"] + 1)
    merged = rows[[*other, "item", "period"]].merge(prior, on=[*other, "item", "period"], how="left")
    return merged[cols].set_axis(rows.index)


_OUT = (
    "target_id", "indicator", "comparator", "threshold", "target_period", "level", "item", "n", "n_eff", "pct",
    "ci_low", "ci_high", "verdict", "verdict_vi", "p_at_least_target", "p_below_target", "p_holm", "p_holm_test",
    "verdict_holm", "more_needed", "more_needed_capped", "previous_pct", "diff", "diff_ci_low", "diff_ci_high",
    "source_document", "target_file",
)
# the one-sided test each p-value column belongs to (H1 of the exact binomial test)
P_TESTS = MappingProxyType({
    "p_at_least_target": "H0: p <= target, H1: p > target (scipy binomtest alternative='greater')",
    "p_below_target": "H0: p >= target, H1: p < target (scipy binomtest alternative='less')",
    "p_holm": "Holm-adjusted within the target, of the test named in p_holm_test (the side the estimate lies on)",
})


class PeriodNeeded(ValueError):
    """Verdicts asked for on figures without a period: a target applies to its own period only."""

    def __init__(self, periods: Collection[str]) -> None:
        self.periods = tuple(sorted(set(periods)))
        super().__init__(
            "verdicts need 'period' in the report's grouping (--by …,period): each target applies only to its own "
            f"period ({', '.join(self.periods)}), and figures pooled over other dates cannot be judged against it"
        )


def evaluate_targets(
    targets: Sequence[Target],
    figures: pd.DataFrame,
    *,
    tree: pd.DataFrame | None = None,
    indicators: Collection[str] | None = None,
    alpha: float = 0.05,
    min_n: int = MIN_N,
    adjust: str | None = "holm",
    max_extra: int = 100_000,
) -> pd.DataFrame:
    """One verdict row per (target, matching figure row); Holm-adjusted within each target.

    Threshold targets: exact binomial verdict; both one-sided p-values, p_at_least_target
    (H1 p > target) and p_below_target (H1 p < target); p_holm / verdict_holm (Holm over the
    rows of that target, of the side named in p_holm_test), more_needed. Figures without a
    'period' column raise PeriodNeeded: pooled dates are never judged against a dated target. 'higher_than_previous': previous_pct and the Newcombe
    difference diff, diff_ci_low, diff_ci_high in percentage points at 1 − 2·alpha.
    """
    keys = [c for c in figures.columns if c not in (*STATS, *ADDITIVE, "level", "element", "item")]
    targets = [t for t in targets if indicators is None or t.indicator in indicators]
    all_figures = figures
    figures = figures[figures["level"].isin({t.measure for t in targets})].reset_index(drop=True)
    if targets and "period" not in figures:
        raise PeriodNeeded(t.period for t in targets)
    links = unit_ancestors(tree) if tree is not None else None
    bounds = _row_bounds(figures["period"]) if "period" in figures else None
    frames = []
    for t in targets:
        mask = (figures["level"] == t.measure).to_numpy().copy()
        mask &= _dimension(figures, "field", t.field) & _dimension(figures, "channel", t.channel)
        if t.scope != ALL:
            if "unit" not in figures:
                continue
            inside = {t.scope} if links is None else set(links.loc[links["ancestor"] == t.scope, "unit"])
            mask &= figures["unit"].isin(inside).to_numpy()
        if bounds is not None:
            mask &= ((bounds[0] >= t.start) & (bounds[1] <= t.end)).to_numpy()
        rows = figures[mask]
        if rows.empty:
            continue
        x, n = _test_counts(rows)
        if t.comparator == "higher_than_previous":
            prev = _previous(rows, all_figures, keys)
            x0, n0 = _test_counts(prev)
            v = difference_verdict(x, n, x0, n0, alpha=alpha, min_n=min_n)
            points = {c: 100 * v[c] for c in ("diff", "diff_ci_low", "diff_ci_high")}
            v = v.assign(previous_pct=prev["pct"].to_numpy(), **points)
        else:
            v = verdict(x, n, t.threshold / 100, alpha=alpha, min_n=min_n, max_extra=max_extra)
            short = n < min_n
            v["p_at_least_target"] = np.where(short, np.nan, v["p_greater"])
            v["p_below_target"] = np.where(short, np.nan, v["p_less"])
            above = rows["pct"].to_numpy() >= t.threshold
            if adjust == "holm":
                v["p_holm"] = holm(v["p_value"])
                v["p_holm_test"] = np.where(short, None, np.where(x / np.maximum(n, 1) >= t.threshold / 100,
                                                                  "p_at_least_target", "p_below_target"))
                v["verdict_holm"] = np.select(
                    [v["verdict"] == "chua_du_du_lieu", (v["p_holm"] < alpha) & above, (v["p_holm"] < alpha) & ~above],
                    ["chua_du_du_lieu", "dat", "khong_dat"], "chua_du_co_so",
                )
        meta = {"target_id": t.id, "indicator": t.indicator, "comparator": t.comparator,
                "threshold": np.nan if t.threshold is None else t.threshold,
                "target_period": t.period, "source_document": t.source, "target_file": t.file}
        frames.append(pd.concat([rows.reset_index(drop=True), v], axis=1).assign(**meta))
    columns = [*_OUT[:5], *keys, *_OUT[5:]]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat([f.reindex(columns=columns) for f in frames], ignore_index=True)
    return out.astype({"more_needed": "Int64", "more_needed_capped": "boolean", "verdict_holm": "str"})
