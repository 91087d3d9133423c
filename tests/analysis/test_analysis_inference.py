"""analysis.inference against scipy/statsmodels and formulas written out here."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis.inference import (
    binomial_pvalues, difference_verdict, extra_needed, funnel_limits, holm, newcombe_interval, verdict,
    wilson_interval,
)

Z95 = 1.959963984540054


@pytest.mark.parametrize("x,n", [(0, 10), (10, 10), (95, 100), (285, 300), (1, 31), (17, 40), (999, 1000)])
def test_wilson_matches_statsmodels(x, n):
    lo, hi = wilson_interval(x, n)
    ref = proportion_confint(x, n, alpha=0.05, method="wilson")
    assert (float(lo), float(hi)) == pytest.approx(ref, abs=1e-12)


def test_wilson_by_hand_for_95_of_100():
    # centre = (x + z²/2)/(n + z²); half = z/(n + z²)·sqrt(x(n − x)/n + z²/4)
    z2 = Z95**2
    centre = (95 + z2 / 2) / (100 + z2)
    half = Z95 / (100 + z2) * math.sqrt(95 * 5 / 100 + z2 / 4)
    lo, hi = wilson_interval(95, 100)
    assert float(lo) == pytest.approx(centre - half, abs=1e-12)
    assert float(hi) == pytest.approx(centre + half, abs=1e-12)


def test_wilson_without_answers_is_missing():
    lo, hi = wilson_interval([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


@pytest.mark.parametrize("x,n,p0", [(95, 100, 0.9), (285, 300, 0.9), (80, 100, 0.9), (0, 30, 0.5), (30, 30, 0.85)])
def test_binomial_pvalues_match_binomtest(x, n, p0):
    greater, less = binomial_pvalues(x, n, p0)
    assert float(greater) == pytest.approx(stats.binomtest(x, n, p0, alternative="greater").pvalue, rel=1e-10)
    assert float(less) == pytest.approx(stats.binomtest(x, n, p0, alternative="less").pvalue, rel=1e-10)


def test_95_of_100_against_90_is_not_yet_determinable():
    row = verdict([95], [100], 0.9).iloc[0]
    assert stats.binomtest(95, 100, 0.9, alternative="greater").pvalue > 0.05  # the premise
    assert row["verdict"] == "chua_du_co_so"
    assert row["verdict_vi"] == "Chưa đủ cơ sở kết luận"
    assert row["more_needed"] > 0 and not row["more_needed_capped"]


def test_285_of_300_against_90_meets():
    row = verdict([285], [300], 0.9).iloc[0]
    assert stats.binomtest(285, 300, 0.9, alternative="greater").pvalue < 0.05
    assert (row["verdict"], row["verdict_vi"]) == ("dat", "Đạt")
    assert row["more_needed"] is pd.NA


def test_below_target_and_too_few_answers():
    out = verdict([80, 29], [100, 29], 0.9)
    assert out["verdict"].tolist() == ["khong_dat", "chua_du_du_lieu"]
    assert out["verdict_vi"].tolist() == ["Không đạt", "Chưa đủ dữ liệu"]
    assert np.isnan(out["p_value"].iloc[1])


def _beta_tail(rate, n, p0, greater):
    """Binomial tail at count rate·n in regularised-beta form, written out for the test."""
    x = rate * n
    return special.betainc(x, n - x + 1, p0) if greater else special.betainc(n - x, x + 1, 1 - p0)


@pytest.mark.parametrize("x,n,p0", [(95, 100, 0.9), (31, 33, 0.85), (86, 100, 0.9), (50, 60, 0.8)])
def test_more_needed_is_the_smallest_conclusive_m(x, n, p0):
    greater = x / n > p0
    # at m = 0 the beta form is the exact test's p-value
    exact = stats.binomtest(x, n, p0, alternative="greater" if greater else "less").pvalue
    assert _beta_tail(x / n, n, p0, greater) == pytest.approx(exact, rel=1e-9)
    m, capped = extra_needed([x], [n], p0)
    m = int(m[0])
    assert not capped[0]
    assert _beta_tail(x / n, n + m, p0, greater) < 0.05
    assert all(_beta_tail(x / n, n + k, p0, greater) >= 0.05 for k in range(0, m))


def test_more_needed_is_capped_when_observed_equals_target():
    row = verdict([27], [30], 0.9).iloc[0]
    assert row["verdict"] == "chua_du_co_so"
    assert row["more_needed_capped"] and row["more_needed"] is pd.NA


def test_more_needed_is_capped_beyond_max_extra():
    m, capped = extra_needed([91], [100], 0.9, max_extra=50)  # 91% vs 90% needs thousands more
    assert np.isnan(m[0]) and capped[0]


@pytest.mark.parametrize("a", [(56, 70, 48, 80), (9, 10, 3, 10), (95, 100, 90, 100), (0, 30, 2, 40), (40, 40, 35, 40)])
def test_newcombe_matches_statsmodels(a):
    x1, n1, x0, n0 = a
    d, lo, hi = newcombe_interval(x1, n1, x0, n0)
    ref = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff", alpha=0.05)
    assert float(d) == pytest.approx(x1 / n1 - x0 / n0)
    assert (float(lo), float(hi)) == pytest.approx(ref, abs=1e-10)


def test_difference_verdict_uses_one_sided_alpha():
    out = difference_verdict([90, 70, 85, 85], [100, 100, 100, 100], [70, 90, 83, 80], [100, 100, 100, np.nan])
    assert out["verdict"].tolist() == ["dat", "khong_dat", "chua_du_co_so", "chua_du_du_lieu"]
    ref = confint_proportions_2indep(90, 100, 70, 100, method="newcomb", compare="diff", alpha=0.10)
    assert (out["diff_ci_low"].iloc[0], out["diff_ci_high"].iloc[0]) == pytest.approx(ref, abs=1e-10)
    assert out["diff_level"].iloc[0] == pytest.approx(0.90)


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.2, 12)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-15)
    with_gap = np.array([0.01, np.nan, 0.04, 0.03])
    out = holm(with_gap)
    assert np.isnan(out[1])
    assert out[[0, 2, 3]] == pytest.approx(multipletests([0.01, 0.04, 0.03], method="holm")[1])


def test_funnel_limits_follow_spiegelhalter_interpolation():
    n, p0 = 100, 0.9
    out = funnel_limits([n], p0).iloc[0]
    for q, column in ((0.025, "lo95"), (0.975, "hi95"), (0.001, "lo998"), (0.999, "hi998")):
        r = stats.binom.ppf(q, n, p0)  # smallest r with F(r) >= q
        f_r, f_before = stats.binom.cdf(r, n, p0), stats.binom.cdf(r - 1, n, p0)
        assert f_before < q <= f_r
        a = (f_r - q) / (f_r - f_before)
        assert out[column] == pytest.approx((r - a) / n, abs=1e-12)
    assert out["lo998"] < out["lo95"] < p0 < out["hi95"] < out["hi998"]


def test_funnel_narrows_with_n_and_approaches_normal_limits():
    out = funnel_limits([30, 100, 1000, 100_000], 0.9)
    width = out["hi95"] - out["lo95"]
    assert (np.diff(width) < 0).all()
    big = out.iloc[-1]
    half = Z95 * math.sqrt(0.9 * 0.1 / 100_000)
    assert big["lo95"] == pytest.approx(0.9 - half, abs=2e-4)
    assert big["hi95"] == pytest.approx(0.9 + half, abs=2e-4)
