"""Satisfaction figures from a counts frame: criteria, elements, overall index (DOMAIN.md §4).

The pipeline is `tally` (sufficient statistics per cell, additive) → optional re-grouping
(`add_totals`, `coarsen_period`, `roll_up`; all plain sums) → `percentages` / `all_levels`.
Keeping the additive tallies separate is what lets a report aggregate once from counts and
then roll up fields, periods and the unit tree without touching raw responses again.

Index intervals. An element or overall index is a mean (or pooled mean) of criterion
proportions answered by the same people, so its variance is unknown from counts alone. We
bound it: Var(Σ w_c p_c / Σ w_c) <= (Σ w_c sd_c / Σ w_c)^2 whatever the correlations
(Cauchy–Schwarz), with sd_c = sqrt(p_c q_c / n_c). The index is then treated as a proportion
with effective n  n_eff = min(n_max, p q / sd̄^2), where n_max is the largest component n:
the binomial variance at n_eff is never smaller than the bound, so the Wilson interval and the
verdict on it err on the cautious side. For a single criterion n_eff = n.

Sources (§2): counter feedback and the sampled survey are never pooled; every function groups
by `source` whether or not the caller asked, so every output row says where it comes from.
Flagged responses (§6) are left out by default; `n_excluded` on each row says how many.
On index rows n, n_no_opinion and n_excluded are the largest among the components: each
person answers a criterion once, so that is a lower bound on the people behind the index.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.inference import wilson_interval
from questionnaires.loader import Rollup

SOURCES = frozenset({"feedback", "sample"})
ALL = "all"
ADDITIVE = ("n", "n_satisfied", "n_dissatisfied", "score_sum", "n_no_opinion", "n_excluded")
STATS = ("n", "n_eff", "n_satisfied", "n_no_opinion", "n_excluded", "pct", "ci_low", "ci_high", "mean", "bottom2_pct", "net")
LEVELS = ("criterion", "element", "overall_index", "overall_item", "comprehensive")
ELEMENT_RULES = frozenset({"mean_of_criteria", "pooled"})
OVERALL_RULES = frozenset({"mean_of_elements", "pooled", "weighted"})


def _keys(frame: pd.DataFrame, by: Iterable[str]) -> list[str]:
    """Grouping columns plus 'source', checked against the frame."""
    keys = [c for c in by if c != "source"] + ["source"]
    missing = [c for c in keys if c not in frame.columns]
    if "source" in missing:
        raise ValueError(
            "the frame has no 'source' column: counter feedback and the sampled survey are "
            "never pooled (DOMAIN.md §2), so every row must say which it is ('feedback' or 'sample')"
        )
    if missing:
        raise ValueError(f"grouping column(s) {missing} are not in the frame (columns: {list(frame.columns)})")
    bad = set(frame["source"].dropna().unique()) - SOURCES
    if bad or frame["source"].isna().any():
        found = sorted(map(str, bad)) or ["<missing>"]
        raise ValueError(f"unknown source value(s) {found}; expected 'feedback' or 'sample'")
    return keys


def _frame(frame: pd.DataFrame, keys: Sequence[str], **columns: Any) -> pd.DataFrame:
    """frame[keys].assign(**columns) built in one go: assign inserts the columns one at a time, and
    these frames are small enough that pandas' per-column bookkeeping is most of their cost."""
    return pd.DataFrame({**{k: frame[k] for k in keys}, **columns}, index=frame.index, copy=False)


def _flags(frame: pd.DataFrame) -> np.ndarray:
    return frame["flagged"].fillna(False).to_numpy(dtype=bool) if "flagged" in frame.columns else np.zeros(len(frame), bool)


def _sum(frame: pd.DataFrame, keys: list[str], columns: Sequence[str] = ADDITIVE) -> pd.DataFrame:
    """Sum `columns` by `keys`, keeping missing key values as their own group."""
    return frame.groupby(keys, sort=True, dropna=False, observed=True)[list(columns)].sum().reset_index()


def to_counts(responses: pd.DataFrame) -> pd.DataFrame:
    """Respondent frame (one row per response × coded item) → counts frame with `n`."""
    keys = [c for c in responses.columns if c != "response_id"]
    out = responses.groupby(keys, sort=True, dropna=False, observed=True).size().reset_index(name="n")
    return out.astype({"n": "int64"})


def tally(
    counts: pd.DataFrame, by: Sequence[str], *, items: Collection[str] | None = None, include_flagged: bool = False
) -> pd.DataFrame:
    """Additive sufficient statistics per group × satisfaction item (codes 0–5 only)."""
    keys = _keys(counts, by) + ["item"]
    frame = counts if items is None else counts[counts["item"].isin(list(items))]
    if items is not None and not isinstance(items, (set, frozenset)):  # keep the questionnaire's order
        frame = frame.assign(item=pd.Categorical(frame["item"], categories=list(dict.fromkeys(items))))
    code, n = frame["code"].to_numpy(), frame["n"].to_numpy(dtype="int64")
    bad = (code < 0) | (code > 5)
    if bad.any():
        wrong = frame.loc[bad, ["item", "code"]].drop_duplicates().head(5)
        raise ValueError(
            f"codes outside the 0–5 satisfaction scale (not a satisfaction item?): {wrong.to_dict('records')}"
        )
    flagged = _flags(frame)
    keep = n * (include_flagged | ~flagged)
    answered = (code >= 1) & (code <= 5)
    stats = {
        "n": keep * answered,
        "n_satisfied": keep * (code >= 4),
        "n_dissatisfied": keep * answered * (code <= 2),
        "score_sum": keep * code,
        "n_no_opinion": keep * (code == 0),
        "n_excluded": np.zeros_like(n) if include_flagged else n * flagged,
    }
    return _sum(_frame(frame, keys, **stats), keys)


def percentages(tallies: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Add pct (top two box), Wilson interval, mean score, bottom-two % and net to tallies."""
    n = tallies["n"].to_numpy(dtype=float)
    lo, hi = wilson_interval(tallies["n_satisfied"], n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100 * tallies["n_satisfied"].to_numpy() / n
        bottom = 100 * tallies["n_dissatisfied"].to_numpy() / n
        mean = tallies["score_sum"].to_numpy() / n
    return _frame(
        tallies, tallies.columns, n_eff=n, pct=pct, ci_low=100 * lo, ci_high=100 * hi, mean=mean, bottom2_pct=bottom, net=pct - bottom
    )


def criterion_figures(
    counts: pd.DataFrame,
    by: Sequence[str],
    *,
    items: Collection[str] | None = None,
    include_flagged: bool = False,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per-criterion figures by any grouping columns (plus source)."""
    out = percentages(tally(counts, by, items=items, include_flagged=include_flagged), level=level)
    return out.astype({"item": "str"})


def field_satisfaction(
    counts: pd.DataFrame,
    overall_item: str,
    *,
    by: Sequence[str] = ("field",),
    include_flagged: bool = False,
    level: float = 0.95,
) -> pd.DataFrame:
    """Satisfied % on the overall-satisfaction item by field (the figure 'land ≥ 85%' is about)."""
    keys = list(by) if "field" in by else ["field", *by]
    return criterion_figures(counts, keys, items=[overall_item], include_flagged=include_flagged, level=level)


def as_structure(structure: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Questionnaire structure as a DataFrame[item, element, weight]."""
    frame = pd.DataFrame(structure if isinstance(structure, pd.DataFrame) else list(structure))
    missing = {"item", "element"} - set(frame.columns)
    if missing:
        raise ValueError(f"structure needs columns item and element; missing {sorted(missing)}")
    if frame["item"].duplicated().any():
        raise ValueError(f"structure lists item(s) twice: {sorted(frame.loc[frame['item'].duplicated(), 'item'])}")
    return frame.assign(weight=frame["weight"] if "weight" in frame.columns else 1.0)[["item", "element", "weight"]]


def as_rollup(rule: Rollup | Mapping[str, Any]) -> Rollup:
    """Accept a loader Rollup or a plain mapping; check the method names."""
    if isinstance(rule, Mapping):
        weights = rule.get("weights") or ()
        weights = tuple(sorted(weights.items())) if isinstance(weights, Mapping) else tuple(weights)
        rule = Rollup(
            element=rule.get("element", "mean_of_criteria"), overall=rule.get("overall", "mean_of_elements"),
            weights=weights, overall_item=rule.get("overall_item"), comprehensive=bool(rule.get("comprehensive")),
        )
    if rule.element not in ELEMENT_RULES:
        raise ValueError(f"element rule {rule.element!r} is not one of {sorted(ELEMENT_RULES)}")
    if rule.overall not in OVERALL_RULES:
        raise ValueError(f"overall rule {rule.overall!r} is not one of {sorted(OVERALL_RULES)}")
    return rule


def _combine(parts: pd.DataFrame, keys: list[str], weight: np.ndarray, level: float, pooled: bool) -> pd.DataFrame:
    """Weighted mean of component percentages with the conservative effective n (module doc)."""
    p = parts["pct"].to_numpy() / 100
    n_eff = parts["n_eff"].to_numpy(dtype=float)
    ok = (n_eff > 0) & (weight > 0)
    w = np.where(ok, weight, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(ok, np.sqrt(p * (1 - p) / n_eff), 0.0)
    frame = _frame(
        parts, keys, w=w, wp=w * np.where(ok, p, 0), wsd=w * sd,
        wmean=w * np.where(ok, parts["mean"], 0), wbottom=w * np.where(ok, parts["bottom2_pct"], 0),
        n=np.where(ok, parts["n"], 0), n_satisfied=parts["n_satisfied"].astype("float64").fillna(0),
        n_no_opinion=parts["n_no_opinion"], n_excluded=parts["n_excluded"],
    )
    groups = frame.groupby(keys, sort=True, dropna=False, observed=True)  # two reductions, not one per column
    g = pd.concat([groups[["w", "wp", "wsd", "wmean", "wbottom", "n_satisfied"]].sum(),
                   groups[["n", "n_no_opinion", "n_excluded"]].max()], axis=1).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        pbar, sdbar = g["wp"] / g["w"], g["wsd"] / g["w"]
        n_eff = np.where(sdbar > 0, np.minimum(g["n"], pbar * (1 - pbar) / sdbar**2), g["n"]).astype(float)
        pct, bottom = 100 * pbar, g["wbottom"] / g["w"]
        mean = g["wmean"] / g["w"]
    n_eff = np.where(g["w"] > 0, n_eff, 0.0)
    lo, hi = wilson_interval(pbar * n_eff, n_eff, level)
    sat = g["n_satisfied"].round().astype("Int64") if pooled else pd.array([pd.NA] * len(g), dtype="Int64")
    return _frame(
        g, keys, n=g["n"].astype("int64"), n_eff=n_eff, n_satisfied=sat, n_no_opinion=g["n_no_opinion"],
        n_excluded=g["n_excluded"], pct=pct, ci_low=100 * lo, ci_high=100 * hi, mean=mean, bottom2_pct=bottom,
        net=pct - bottom,
    )


def _element_weights(structure: pd.DataFrame, rule: Rollup) -> pd.Series:
    """Weight per element: the rollup's weights, else the structure's (constant per element)."""
    if rule.weights:
        return pd.Series(dict(rule.weights), dtype=float)
    per = structure.groupby("element")["weight"].agg(["min", "max"])
    uneven = per.index[per["min"] != per["max"]].tolist()
    if uneven:
        raise ValueError(f"structure gives different weights to criteria of element(s) {uneven}; weights are per element")
    return per["min"].astype(float)


def all_levels(
    tallies: pd.DataFrame, structure: pd.DataFrame | Iterable[Mapping[str, Any]], rollup: Rollup | Mapping[str, Any],
    *, level: float = 0.95,
) -> pd.DataFrame:
    """Criterion, element, overall-index and overall-item rows (long, with a `level` column)."""
    structure, rule = as_structure(structure), as_rollup(rollup)
    keys = [c for c in tallies.columns if c not in ADDITIVE and c != "item"]
    element_of = structure.set_index("item")["element"]
    crit = percentages(tallies[tallies["item"].isin(element_of.index)], level=level)
    elements_in_order = list(dict.fromkeys(structure["element"]))
    crit = crit.assign(level="criterion", element=pd.Categorical(crit["item"].map(element_of), categories=elements_in_order))
    ones = np.ones(len(crit))
    pooled_el = rule.element == "pooled"
    elements = _combine(crit, keys + ["element"], crit["n_eff"].to_numpy() if pooled_el else ones, level, pooled_el)
    elements = elements.assign(level="element", item=pd.NA)
    if rule.overall == "pooled":
        overall = _combine(crit, keys, crit["n_eff"].to_numpy(), level, True)
    else:
        w = elements["element"].map(_element_weights(structure, rule)) if rule.overall == "weighted" else 1.0
        missing = sorted(set(elements.loc[pd.isna(w), "element"])) if rule.overall == "weighted" else []
        if missing:
            raise ValueError(f"'weighted' overall rule has no weight for element(s) {missing}")
        overall = _combine(elements, keys, np.broadcast_to(np.asarray(w, float), len(elements)).copy(), level, False)
    overall = overall.assign(level="overall_index", element=pd.NA, item=pd.NA)
    parts = [crit.drop(columns=["n_dissatisfied", "score_sum"]), elements, overall]
    if rule.overall_item is not None:
        item = percentages(tallies[tallies["item"] == rule.overall_item], level=level)
        parts.append(item.drop(columns=["n_dissatisfied", "score_sum"]).assign(level="overall_item", element=pd.NA))
    return _stack(parts, keys)


def _stack(parts: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Concatenate level frames (level by level, each in key order) with stable dtypes."""
    columns = keys + ["level", "element", "item", *STATS]
    typed = [
        p.reindex(columns=columns).astype({"level": "str", "element": "str", "item": "str", "n_satisfied": "Int64"})
        for p in parts if len(p)
    ]
    if not typed:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    return pd.concat(typed, ignore_index=True)


def comprehensive_tally(
    responses: pd.DataFrame, by: Sequence[str], items: Collection[str], *, include_flagged: bool = False
) -> pd.DataFrame:
    """Additive respondent counts: n answered ≥ 1 item, n_satisfied = every answered item 4 or 5."""
    keys = _keys(responses, by)
    answered = responses[responses["item"].isin(list(items)) & responses["code"].between(1, 5)]
    per = answered.assign(_flag=_flags(answered)).groupby("response_id", sort=False).agg(
        min_code=("code", "min"), flagged=("_flag", "max"), **{k: (k, "first") for k in keys}
    )
    keep = (include_flagged | ~per["flagged"]).astype("int64")
    per = per.assign(
        n=keep, n_satisfied=keep * (per["min_code"] >= 4), n_dissatisfied=0, score_sum=0, n_no_opinion=0,
        n_excluded=(1 - keep) if not include_flagged else 0,
    )
    return _sum(per[keys + list(ADDITIVE)], keys)


def comprehensive_satisfaction(
    responses: pd.DataFrame,
    by: Sequence[str],
    items: Collection[str],
    *,
    include_flagged: bool = False,
    level: float = 0.95,
) -> pd.DataFrame:
    """Share of respondents whose every answered item (1–5) is 4 or 5 (health 'hài lòng toàn diện')."""
    tallies = comprehensive_tally(responses, by, items, include_flagged=include_flagged)
    return comprehensive_rows(tallies, level=level)


def comprehensive_rows(tallies: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Figure rows (level 'comprehensive') from comprehensive tallies, possibly regrouped."""
    keys = [c for c in tallies.columns if c not in ADDITIVE]
    out = percentages(tallies, level=level).assign(
        level="comprehensive", element=pd.NA, item=pd.NA, mean=np.nan, bottom2_pct=np.nan, net=np.nan
    )
    return _stack([out], keys)


def exclusions(counts: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Flagged answers and responses left out, by group and reason (responses: lower bound)."""
    keys = _keys(counts, by)
    columns = [*keys, "flag_reason", "responses", "answers"]
    flagged = counts[_flags(counts)]
    if flagged.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("responses", "answers") else "str") for c in columns})
    flagged = flagged.assign(flag_reason=flagged["flag_reason"] if "flag_reason" in flagged else "unspecified")
    per_item = _sum(flagged, [*keys, "flag_reason", "item"], ["n"])
    # each response answers an item once, so the busiest item counts responses from below
    out = per_item.groupby([*keys, "flag_reason"], sort=True, dropna=False).agg(responses=("n", "max"), answers=("n", "sum"))
    return out.reset_index()[columns]


def add_totals(tallies: pd.DataFrame, column: str, label: str = ALL) -> pd.DataFrame:
    """Append rows summed over `column` (e.g. all fields), labelled `label`."""
    keys = [c for c in tallies.columns if c not in ADDITIVE and c != column]
    total = _sum(tallies, keys).assign(**{column: label})[tallies.columns]
    dtype = tallies[column].dtype if pd.api.types.is_string_dtype(tallies[column].dtype) else "object"
    return pd.concat([tallies.astype({column: dtype}), total.astype({column: dtype})], ignore_index=True)


def unit_ancestors(tree: pd.DataFrame) -> pd.DataFrame:
    """(unit, ancestor, distance) for every unit and each ancestor-or-self in the tree."""
    parent = {u: None if pd.isna(p) else p for u, p in zip(tree["unit"], tree["parent"])}
    if len(parent) != len(tree):
        raise ValueError(f"unit tree lists unit(s) twice: {sorted(tree.loc[tree['unit'].duplicated(), 'unit'].map(str))}")
    orphans = sorted(str(p) for p in set(parent.values()) - set(parent) - {None})
    if orphans:
        raise ValueError(f"unit tree refers to parent(s) not in the tree: {orphans}")
    rows = []
    for unit in parent:
        node, distance, seen = unit, 0, set()
        while node is not None:
            if node in seen:
                raise ValueError(f"unit tree has a cycle through {node!r}")
            seen.add(node)
            rows.append((unit, node, distance))
            node, distance = parent[node], distance + 1
    return pd.DataFrame(rows, columns=["unit", "ancestor", "distance"])


def roll_up(tallies: pd.DataFrame, tree: pd.DataFrame, *, column: str = "unit") -> pd.DataFrame:
    """Every ancestor gets the pooled tallies of its whole subtree (any depth)."""
    links = unit_ancestors(tree).rename(columns={"unit": "_child", "ancestor": "_ancestor"})
    unknown = sorted(map(str, set(tallies[column].dropna().unique()) - set(links["_child"])))
    if unknown:
        raise ValueError(f"unit(s) {unknown[:10]} are not in the unit tree")
    keys = [c for c in tallies.columns if c not in ADDITIVE]
    joined = tallies.merge(links[["_child", "_ancestor"]], left_on=column, right_on="_child")
    joined = joined.drop(columns=[column, "_child"]).rename(columns={"_ancestor": column})
    return _sum(joined, keys)[tallies.columns]


def coarsen_period(tallies: pd.DataFrame, freq: str, *, column: str = "period") -> pd.DataFrame:
    """Re-sum tallies from finer periods (months) to coarser ones ('Q', 'Y')."""
    if not isinstance(tallies[column].dtype, pd.PeriodDtype):
        raise ValueError(f"column {column!r} must hold pandas Periods to be coarsened (got {tallies[column].dtype})")
    keys = [c for c in tallies.columns if c not in ADDITIVE]
    return _sum(tallies.assign(**{column: tallies[column].dt.asfreq(freq)}), keys)


def assign_period(
    frame: pd.DataFrame,
    column: str,
    *,
    freq: str | None = None,
    ranges: Mapping[str, tuple[Any, Any]] | None = None,
    name: str = "period",
    tz: str = "Asia/Ho_Chi_Minh",
) -> pd.DataFrame:
    """Map a datetime column to a period: month/quarter/year ('M'/'Q'/'Y') or named date ranges.

    Aware timestamps are read in Vietnam time first, so a form sent at 23:30 on 31 March
    local time counts in March. Range ends are inclusive dates; rows outside every range get NA.
    """
    if (freq is None) == (ranges is None):
        raise ValueError("give exactly one of freq ('M', 'Q', 'Y') or ranges ({label: (start, end)})")
    when = pd.to_datetime(frame[column])
    if when.dt.tz is not None:
        when = when.dt.tz_convert(tz).dt.tz_localize(None)
    if freq is not None:
        return frame.assign(**{name: when.dt.to_period(freq)})
    bounds = sorted((pd.Timestamp(a), pd.Timestamp(b) + pd.Timedelta(days=1), label) for label, (a, b) in ranges.items())
    for (_, end, first), (start, _, second) in zip(bounds, bounds[1:]):
        if start < end:
            raise ValueError(f"period ranges {first!r} and {second!r} overlap")
    label = pd.Series(pd.NA, index=frame.index, dtype="str")
    for start, end, text in bounds:
        label = label.mask((when >= start) & (when < end), text)
    return frame.assign(**{name: label})
