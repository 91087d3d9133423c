"""analysis.weights on a 3-stratum worked example, every expected value computed here by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from analysis.weights import adjust_nonresponse, design_weights, estimate_proportion, post_stratify

# stratum: dossiers N_h, sampled n_h, respondents r_h, satisfied among respondents s_h
EXAMPLE = {"a": (1000, 60, 50, 40), "b": (600, 40, 30, 27), "c": (400, 30, 20, 12)}
POP = pd.DataFrame({"h": list(EXAMPLE), "N": [v[0] for v in EXAMPLE.values()]})


def sample() -> pd.DataFrame:
    rows = []
    for h, (_, n, r, s) in EXAMPLE.items():
        for i in range(n):
            rows.append({"h": h, "responded": i < r, "q1": (5 if i < s else 2) if i < r else np.nan})
    return pd.DataFrame(rows)


def weighted() -> pd.DataFrame:
    s = design_weights(sample(), POP, strata="h")
    s = adjust_nonresponse(s, strata="h")
    return post_stratify(s, POP, classes="h")


def test_weights_step_by_step():
    s = weighted()
    for h, (N, n, r, _) in EXAMPLE.items():
        part = s[s["h"] == h]
        assert part["w_design"].unique() == pytest.approx([N / n])  # design weight N_h / n_h
        assert part.loc[part["responded"], "w_nr"].unique() == pytest.approx([N / r])  # respondents carry the rest
        assert (part.loc[~part["responded"], "w_nr"] == 0).all()
        assert part["w_post"].sum() == pytest.approx(N)


def test_three_stratum_estimate_variance_and_korn_graubard_by_hand():
    out = estimate_proportion(weighted(), "q1", strata="h", population=POP).iloc[0]
    N = sum(v[0] for v in EXAMPLE.values())
    # p̂ = Σ W_h p_h with W_h = N_h / N
    p = sum(Nh / N * s / r for Nh, _, r, s in EXAMPLE.values())
    assert p == pytest.approx(0.79)
    assert out["pct"] == pytest.approx(100 * p)
    # stratified variance: Σ W_h² (1 − r_h/N_h) s²_h / r_h with s²_h = r_h p_h q_h / (r_h − 1)
    v = 0.0
    for Nh, _, r, s in EXAMPLE.values():
        ph = s / r
        s2 = r * ph * (1 - ph) / (r - 1)
        v += (Nh / N) ** 2 * (1 - r / Nh) * s2 / r
    assert out["se_pct"] == pytest.approx(100 * math.sqrt(v))
    # design effect against SRS of the same 100 respondents; effective n
    n = 50 + 30 + 20
    assert out["deff"] == pytest.approx(v / (p * (1 - p) / n))
    assert out["n_eff"] == pytest.approx(p * (1 - p) / v)
    # Korn–Graubard: n* capped at n, times (t_{n−1}/t_{df})², df = respondents − strata = 97
    n_star = min(p * (1 - p) / v, n) * (stats.t.ppf(0.025, n - 1) / stats.t.ppf(0.025, n - 3)) ** 2
    assert out["df"] == 97 and out["n_eff_kg"] == pytest.approx(n_star)
    x = n_star * p
    lo, hi = stats.beta.ppf(0.025, x, n_star - x + 1), stats.beta.ppf(0.975, x + 1, n_star - x)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((100 * lo, 100 * hi))
    # the same interval is Clopper–Pearson at the effective size (statsmodels 'beta')
    assert (out["ci_low"], out["ci_high"]) == pytest.approx(
        tuple(100 * b for b in proportion_confint(x, n_star, method="beta")))


def test_point_estimate_matches_statsmodels_weighted_mean_with_item_nonresponse():
    s = weighted()
    s.loc[[0, 1, 60, 61, 100], "q1"] = 0  # "no opinion": out of the item's domain
    out = estimate_proportion(s, "q1", strata="h").iloc[0]
    answered = s[s["q1"].between(1, 5)]
    ref = DescrStatsW((answered["q1"] >= 4).astype(float), weights=answered["w_post"]).mean
    assert out["pct"] == pytest.approx(100 * ref)
    assert out["n"] == len(answered)


def test_single_stratum_srs_reduces_to_textbook_variance():
    # one stratum, equal weights, no fpc: v = p q / (n − 1)
    s = pd.DataFrame({"h": "all", "responded": True, "q1": [5] * 30 + [1] * 10, "w_post": 25.0})
    out = estimate_proportion(s, "q1", strata="h").iloc[0]
    assert out["se_pct"] == pytest.approx(100 * math.sqrt(0.75 * 0.25 / 39))
    assert out["deff"] == pytest.approx(40 / 39)


def test_post_stratification_to_other_classes():
    s = design_weights(sample(), POP, strata="h")
    s = adjust_nonresponse(s, strata="h")
    s = s.assign(g=np.where(s.index % 2 == 0, "dat-dai", "tu-phap"))
    totals = pd.DataFrame({"g": ["dat-dai", "tu-phap"], "N": [1200, 800]})
    s = post_stratify(s, totals, classes="g")
    assert s.groupby("g")["w_post"].sum().to_dict() == pytest.approx({"dat-dai": 1200, "tu-phap": 800})
    out = estimate_proportion(s, "q1", strata="h", classes="g").iloc[0]
    resp = s[s["responded"]]
    by_class = {g: np.average(part["q1"] >= 4, weights=part["w_post"]) for g, part in resp.groupby("g")}
    assert out["pct"] == pytest.approx(100 * (1200 * by_class["dat-dai"] + 800 * by_class["tu-phap"]) / 2000)
    assert 0 < out["ci_low"] < out["pct"] < out["ci_high"] < 100


def test_strata_that_cannot_be_estimated_are_named():
    s = design_weights(sample(), POP, strata="h")
    s.loc[s["h"] == "c", "responded"] = False
    with pytest.raises(ValueError, match=r"'h': 'c'.*no respondents"):
        adjust_nonresponse(s, strata="h")
    lonely = pd.DataFrame({"h": ["a", "a", "b"], "responded": True, "q1": [5, 1, 4], "w_post": 1.0})
    with pytest.raises(ValueError, match="single respondent"):
        estimate_proportion(lonely, "q1", strata="h")
