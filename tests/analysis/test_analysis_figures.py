"""analysis.figures: values checked against hand calculations and statsmodels."""
import math

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.figures import (
    add_totals, all_levels, assign_period, coarsen_period, comprehensive_satisfaction, criterion_figures,
    exclusions, field_satisfaction, roll_up, tally, to_counts, unit_ancestors,
)


def cells(unit="u1", field="dat-dai", source="feedback", period="2025", **by_item):
    """Counts rows from {item: {code: n}}."""
    return pd.DataFrame([
        {"unit": unit, "field": field, "period": pd.Period(period, "Y"), "source": source, "item": item, "code": c, "n": n}
        for item, codes in by_item.items() for c, n in codes.items()
    ])


ONE = {0: 5, 1: 2, 2: 3, 3: 10, 4: 40, 5: 45}


def test_criterion_figures_by_hand():
    row = criterion_figures(cells(c1=ONE), ["unit"]).iloc[0]
    # answers 1–5: 2+3+10+40+45 = 100; satisfied 85; no opinion 5 kept aside
    assert (row["n"], row["n_satisfied"], row["n_no_opinion"]) == (100, 85, 5)
    assert row["pct"] == pytest.approx(85.0)
    assert row["mean"] == pytest.approx((1 * 2 + 2 * 3 + 3 * 10 + 4 * 40 + 5 * 45) / 100)
    assert row["bottom2_pct"] == pytest.approx(5.0)
    assert row["net"] == pytest.approx(80.0)
    lo, hi = proportion_confint(85, 100, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((100 * lo, 100 * hi))
    assert row["source"] == "feedback"


def test_flagged_excluded_by_default_and_counted():
    counts = cells(c1={4: 10, 5: 10, 1: 10}).assign(flagged=[False, True, False], flag_reason=[None, "speeder", None])
    default = criterion_figures(counts, ["unit"]).iloc[0]
    assert (default["n"], default["n_satisfied"], default["n_excluded"]) == (20, 10, 10)
    included = criterion_figures(counts, ["unit"], include_flagged=True).iloc[0]
    assert (included["n"], included["n_satisfied"], included["n_excluded"]) == (30, 20, 0)
    ex = exclusions(counts, ["unit"])
    assert ex[["flag_reason", "responses", "answers"]].values.tolist() == [["speeder", 10, 10]]


def test_sources_are_never_pooled():
    counts = pd.concat([cells(c1={4: 9, 1: 1}), cells(source="sample", c1={4: 1, 1: 9})])
    out = criterion_figures(counts, ["unit"])  # caller did not group by source
    assert sorted(zip(out["source"], out["pct"])) == [("feedback", 90.0), ("sample", 10.0)]


def test_missing_or_unknown_source_is_an_error():
    with pytest.raises(ValueError, match="never pooled"):
        criterion_figures(cells(c1=ONE).drop(columns="source"), ["unit"])
    with pytest.raises(ValueError, match="unknown source"):
        criterion_figures(cells(source="web", c1=ONE), ["unit"])


def test_codes_outside_the_scale_are_refused():
    with pytest.raises(ValueError, match="0–5"):
        tally(cells(gender={1: 3, 7: 2}), ["unit"])


STRUCTURE = [
    {"item": "a1", "element": "access", "weight": 1.0},
    {"item": "a2", "element": "access", "weight": 1.0},
    {"item": "s1", "element": "staff", "weight": 1.0},
]
DATA = dict(a1={4: 40, 1: 10}, a2={5: 30, 2: 20}, s1={5: 90, 3: 10}, overall={4: 70, 2: 30})
# a1 80% of 50, a2 60% of 50, s1 90% of 100, overall 70% of 100


def levels(rollup, **kw):
    t = tally(cells(**DATA), ["unit"])
    out = all_levels(t, STRUCTURE, rollup, **kw)
    return {(r.level, r.element if isinstance(r.element, str) else None): r for r in out.itertuples()}


def test_mean_of_criteria_and_mean_of_elements():
    out = levels({"element": "mean_of_criteria", "overall": "mean_of_elements", "overall_item": "overall"})
    assert out[("element", "access")].pct == pytest.approx((80 + 60) / 2)
    assert out[("element", "staff")].pct == pytest.approx(90)
    assert out[("overall_index", None)].pct == pytest.approx((70 + 90) / 2)
    assert out[("overall_item", None)].pct == pytest.approx(70)
    assert out[("element", "access")].mean == pytest.approx(((4 * 40 + 10) / 50 + (5 * 30 + 40) / 50) / 2)


def test_pooled_rules_use_counts():
    out = levels({"element": "pooled", "overall": "pooled"})
    assert out[("element", "access")].pct == pytest.approx(100 * (40 + 30) / (50 + 50))
    assert out[("element", "access")].n_satisfied == 70
    assert out[("overall_index", None)].pct == pytest.approx(100 * (40 + 30 + 90) / 200)


def test_weighted_overall():
    out = levels({"element": "mean_of_criteria", "overall": "weighted", "weights": {"access": 1, "staff": 3}})
    assert out[("overall_index", None)].pct == pytest.approx((70 * 1 + 90 * 3) / 4)


def test_index_effective_n_by_hand():
    out = levels({"element": "mean_of_criteria", "overall": "mean_of_elements"})
    access = out[("element", "access")]
    # sd̄ = mean of sqrt(p q / n) over criteria; n_eff = min(n_max, p̄ q̄ / sd̄²)
    sd = (math.sqrt(0.8 * 0.2 / 50) + math.sqrt(0.6 * 0.4 / 50)) / 2
    n_eff = min(50, 0.7 * 0.3 / sd**2)
    assert access.n_eff == pytest.approx(n_eff)
    assert access.n == 50
    lo, hi = proportion_confint(0.7 * n_eff, n_eff, method="wilson")
    assert (access.ci_low, access.ci_high) == pytest.approx((100 * lo, 100 * hi))


def test_field_satisfaction_uses_the_overall_item_per_field():
    counts = pd.concat([cells(field="dat-dai", overall={4: 17, 2: 3}, a1={5: 20}),
                        cells(field="tu-phap", overall={5: 9, 1: 1})])
    out = field_satisfaction(counts, "overall").set_index("field")["pct"]
    assert out.to_dict() == pytest.approx({"dat-dai": 85.0, "tu-phap": 90.0})


def responses_frame():
    rows = []
    answers = {1: [4, 5, 5], 2: [5, 3, 4], 3: [5, 5, 0], 4: [0, 0, 0], 5: [4, 4, 4]}
    for rid, codes in answers.items():
        for item, code in zip(["a1", "a2", "s1"], codes):
            rows.append({"response_id": rid, "unit": "u1", "source": "feedback", "item": item, "code": code,
                         "flagged": rid == 5, "flag_reason": "honeypot" if rid == 5 else None})
    return pd.DataFrame(rows)


def test_comprehensive_satisfaction():
    out = comprehensive_satisfaction(responses_frame(), ["unit"], ["a1", "a2", "s1"]).iloc[0]
    # respondent 1 and 3 (no-opinion ignored) are all 4–5; 2 has a 3; 4 answered nothing; 5 flagged
    assert (out["n"], out["n_satisfied"], out["n_excluded"]) == (3, 2, 1)
    assert out["pct"] == pytest.approx(200 / 3)
    assert out["level"] == "comprehensive"
    with_flagged = comprehensive_satisfaction(responses_frame(), ["unit"], ["a1", "a2", "s1"], include_flagged=True)
    assert with_flagged["n"].iloc[0] == 4 and with_flagged["n_satisfied"].iloc[0] == 3


def test_to_counts():
    counts = to_counts(responses_frame())
    a1 = counts[counts["item"] == "a1"]
    assert a1.groupby("code")["n"].sum().to_dict() == {0: 1, 4: 2, 5: 2}
    assert a1.loc[a1["flagged"], ["code", "n", "flag_reason"]].values.tolist() == [[4, 1, "honeypot"]]
    assert counts["n"].sum() == 15


TREE = pd.DataFrame({
    "unit": ["p", "d1", "d2", "c1", "c2", "c3", "v1"],
    "parent": [None, "p", "p", "d1", "d1", "d2", "c3"],
    "name": list("PABCDEF"), "kind": ["province", "district", "district", "commune", "commune", "commune", "village"],
})


def test_roll_up_pools_whole_subtrees_at_any_depth():
    counts = pd.concat([cells(unit=u, c1={4: k, 1: 1}) for u, k in [("c1", 3), ("c2", 5), ("v1", 7), ("d2", 11)]])
    out = roll_up(tally(counts, ["unit"]), TREE).set_index("unit")
    assert out.loc["d1", "n_satisfied"] == 3 + 5
    assert out.loc["c3", "n_satisfied"] == 7
    assert out.loc["d2", "n_satisfied"] == 7 + 11  # its own responses plus the village below
    assert out.loc["p", "n_satisfied"] == 3 + 5 + 7 + 11
    assert out.loc["p", "n"] == out.loc[["d1", "d2"], "n"].sum()


def test_tree_errors():
    with pytest.raises(ValueError, match="not in the unit tree"):
        roll_up(tally(cells(unit="zz", c1=ONE), ["unit"]), TREE)
    cyclic = pd.DataFrame({"unit": ["a", "b"], "parent": ["b", "a"], "name": ["A", "B"], "kind": ["x", "x"]})
    with pytest.raises(ValueError, match="cycle"):
        unit_ancestors(cyclic)
    with pytest.raises(ValueError, match="not in the tree"):
        unit_ancestors(pd.DataFrame({"unit": ["a"], "parent": ["q"], "name": ["A"], "kind": ["x"]}))


def test_add_totals_over_fields():
    counts = pd.concat([cells(field="dat-dai", c1={4: 3, 1: 1}), cells(field="xay-dung", c1={5: 2, 2: 2})])
    out = add_totals(tally(counts, ["unit", "field"]), "field").set_index("field")
    assert out.loc["all", "n"] == 8 and out.loc["all", "n_satisfied"] == 5


def test_assign_period_in_vietnam_time_and_ranges():
    frame = pd.DataFrame({"at": pd.to_datetime(["2025-03-31T17:30:00Z", "2025-03-31T16:30:00Z", "2024-12-31T23:00:00Z"])})
    months = assign_period(frame, "at", freq="M")["period"].astype(str).tolist()
    assert months == ["2025-04", "2025-03", "2025-01"]  # UTC+7
    assert assign_period(frame, "at", freq="Q")["period"].astype(str).tolist() == ["2025Q2", "2025Q1", "2025Q1"]
    ranges = {"dot-1": ("2025-01-01", "2025-03-31"), "dot-2": ("2025-04-01", "2025-06-30")}
    labels = assign_period(frame, "at", ranges=ranges)["period"].tolist()
    assert labels == ["dot-2", "dot-1", "dot-1"]
    assert "period" not in frame  # input untouched
    with pytest.raises(ValueError, match="overlap"):
        assign_period(frame, "at", ranges={"a": ("2025-01-01", "2025-02-01"), "b": ("2025-02-01", "2025-03-01")})


def test_coarsen_period_months_to_year():
    counts = pd.concat([cells(c1={4: 2, 1: 1}).assign(period=pd.Period(m, "M")) for m in ("2025-01", "2025-02")])
    out = coarsen_period(tally(counts, ["unit", "period"]), "Y")
    assert len(out) == 1 and out["n"].iloc[0] == 6 and str(out["period"].iloc[0]) == "2025"
