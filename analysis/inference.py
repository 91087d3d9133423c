"""Intervals, verdicts against targets, period comparisons and funnel limits (DOMAIN.md §6).

Everything here works on proportions in [0, 1] and plain arrays, so a report can run it once
over thousands of cells; figures.py and targets.py convert to and from percentages.

Choices, and why:
- Wilson score interval for every percentage: good coverage at the small n of a commune
  counter, never outside [0, 1], unlike the Wald interval (§6).
- Verdict = exact one-sided binomial test at alpha (scipy.stats.binomtest semantics):
  'dat' when H0 p <= target is rejected ('greater'), 'khong_dat' when H0 p >= target is
  rejected ('less'), otherwise 'chua_du_co_so'; 'chua_du_du_lieu' below `min_n` answers.
  For '>' and '>=' the decision is the same: the boundary itself has no probability mass
  under a continuous p, so the one-sided tests cannot tell "= 90%" from "> 90%".
- "More responses needed": the smallest m such that n + m responses at the *same* satisfied
  share would make the test conclusive. The share p̂·(n+m) is generally not a whole count,
  so the binomial tail is evaluated in its regularised-beta form, P(X >= x) = I_p0(x, n-x+1),
  which equals the exact test at m = 0 and falls steadily as m grows; the search doubles m,
  then bisects (tests check the answer against a scan of every smaller m).
- Year-over-year: Newcombe (1998) method 10 hybrid score interval for p1 - p0. A one-sided
  decision at alpha uses the two-sided 1 - 2*alpha interval, so it matches the binomial verdicts.
- Funnel limits: exact binomial quantiles with Spiegelhalter's (2005, Stat Med 24:1185)
  interpolation between whole counts, so the limits are smooth in n rather than stepped.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special, stats

MIN_N = 30
VERDICT_VI = {
    "dat": "Đạt",
    "khong_dat": "Không đạt",
    "chua_du_co_so": "Chưa đủ cơ sở kết luận",
    "chua_du_du_lieu": "Chưa đủ dữ liệu",
}


def z_value(level: float) -> float:
    """Two-sided standard-normal quantile for a confidence level."""
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def wilson_interval(x: ArrayLike, n: ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for x successes in n (n may be fractional: an effective n)."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    z2 = z_value(level) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        centre = (x + z2 / 2) / (n + z2)
        half = np.sqrt(z2) / (n + z2) * np.sqrt(n * p * (1 - p) + z2 / 4)
    ok = n > 0
    lo = np.where(x <= 0, 0.0, np.clip(centre - half, 0, 1))  # exact ends, free of rounding noise
    hi = np.where(x >= n, 1.0, np.clip(centre + half, 0, 1))
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def newcombe_interval(
    x1: ArrayLike, n1: ArrayLike, x0: ArrayLike, n0: ArrayLike, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference p1 - p0 of two independent proportions with Newcombe's hybrid score interval."""
    x1, n1, x0, n0 = (np.asarray(a, dtype=float) for a in (x1, n1, x0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson_interval(x1, n1, level)
    l0, u0 = wilson_interval(x0, n0, level)
    d = p1 - p0
    return d, d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def binomial_pvalues(x: ArrayLike, n: ArrayLike, p0: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact p-values (P(X >= x), P(X <= x)) under Binomial(n, p0)."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    return stats.binom.sf(x - 1, n, p0), stats.binom.cdf(x, n, p0)


def _tail(rate: np.ndarray, n: np.ndarray, p0: np.ndarray, greater: np.ndarray) -> np.ndarray:
    """Binomial tail at a possibly fractional count rate*n, in regularised-beta form."""
    x = rate * n
    with np.errstate(invalid="ignore"):
        upper = special.betainc(np.maximum(x, 1e-300), n - x + 1, p0)  # P(X >= x)
        lower = special.betainc(np.maximum(n - x, 1e-300), x + 1, 1 - p0)  # P(X <= x)
    return np.where(greater, upper, lower)


def extra_needed(
    x: ArrayLike, n: ArrayLike, p0: ArrayLike, *, alpha: float = 0.05, max_extra: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """(m, capped): smallest extra responses at the same rate that make the test conclusive."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    p0 = np.broadcast_to(np.asarray(p0, dtype=float), x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = x / n
    greater = rate > p0
    conclusive = lambda m: _tail(rate, n + m, p0, greater) < alpha  # noqa: E731
    todo = (n > 0) & (rate != p0)
    lo = np.zeros(x.shape)  # invariant: inconclusive at lo (m = 0 is the current state)
    hi = np.ones(x.shape)
    found = todo & conclusive(hi)
    while (grow := todo & ~found & (hi < max_extra)).any():
        lo = np.where(grow, hi, lo)
        hi = np.where(grow, np.minimum(hi * 2, max_extra), hi)
        found = np.where(grow, conclusive(hi), found)
    while (narrow := found & (hi - lo > 1)).any():
        mid = np.floor((lo + hi) / 2)
        ok = conclusive(mid)
        hi = np.where(narrow & ok, mid, hi)
        lo = np.where(narrow & ~ok, mid, lo)
    return np.where(found, hi, np.nan), todo & ~found | ((n > 0) & (rate == p0))


def verdict(
    x: ArrayLike,
    n: ArrayLike,
    threshold: ArrayLike,
    *,
    alpha: float = 0.05,
    min_n: int = MIN_N,
    max_extra: int = 100_000,
) -> pd.DataFrame:
    """Verdict of x satisfied out of n against a target proportion (one row per input)."""
    x, n = np.asarray(x, dtype=float).ravel(), np.asarray(n, dtype=float).ravel()
    p0 = np.broadcast_to(np.asarray(threshold, dtype=float), x.shape)
    p_greater, p_less = binomial_pvalues(x, n, p0)
    code = np.select(
        [n < min_n, p_greater < alpha, p_less < alpha], ["chua_du_du_lieu", "dat", "khong_dat"], "chua_du_co_so"
    )
    open_ = code == "chua_du_co_so"
    m, capped = extra_needed(np.where(open_, x, 0), np.where(open_, n, 0), p0, alpha=alpha, max_extra=max_extra)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = np.where(x / n >= p0, p_greater, p_less)
    return pd.DataFrame({
        "verdict": code,
        "verdict_vi": pd.Series(code).map(VERDICT_VI).to_numpy(),
        "p_value": np.where(n < min_n, np.nan, p_value),
        "p_greater": p_greater,
        "p_less": p_less,
        "more_needed": pd.array(np.where(open_, m, np.nan), dtype="Int64"),
        "more_needed_capped": open_ & capped,
    })


def difference_verdict(
    x1: ArrayLike, n1: ArrayLike, x0: ArrayLike, n0: ArrayLike, *, alpha: float = 0.05, min_n: int = MIN_N
) -> pd.DataFrame:
    """'Higher than the previous period' verdict from the Newcombe interval at 1 - 2*alpha."""
    x1, n1, x0, n0 = (np.asarray(a, dtype=float).ravel() for a in (x1, n1, x0, n0))
    d, lo, hi = newcombe_interval(x1, n1, x0, n0, level=1 - 2 * alpha)
    short = (n1 < min_n) | ~(n0 >= min_n)  # NaN previous n (no previous period) counts as short
    code = np.select([short, lo > 0, hi < 0], ["chua_du_du_lieu", "dat", "khong_dat"], "chua_du_co_so")
    return pd.DataFrame({
        "verdict": code,
        "verdict_vi": pd.Series(code).map(VERDICT_VI).to_numpy(),
        "diff": d,
        "diff_ci_low": lo,
        "diff_ci_high": hi,
        "diff_level": 1 - 2 * alpha,
    })


def holm(pvalues: ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN entries stay NaN and are not in the family."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    if idx.size:
        order = idx[np.argsort(p[idx], kind="stable")]
        m = idx.size
        out[order] = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[order]), 1.0)
    return out


def _interpolated_quantile(q: float, n: np.ndarray, p0: float) -> np.ndarray:
    """Spiegelhalter's continuous binomial quantile, as a proportion of n."""
    r = stats.binom.ppf(q, n, p0)
    f_r, f_below = stats.binom.cdf(r, n, p0), stats.binom.cdf(r - 1, n, p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(f_r > f_below, (f_r - q) / (f_r - f_below), 0.0)
        return (r - a) / n


def funnel_limits(n: ArrayLike, target: float, levels: tuple[float, ...] = (0.95, 0.998)) -> pd.DataFrame:
    """Funnel-plot control limits around a target proportion as a function of n."""
    n = np.asarray(n, dtype=float).ravel()
    out = {"n": n}
    for level in levels:
        tag = f"{level * 100:g}".replace(".", "")
        tail = (1 - level) / 2
        out[f"lo{tag}"] = np.clip(_interpolated_quantile(tail, n, target), 0, 1)
        out[f"hi{tag}"] = np.clip(_interpolated_quantile(1 - tail, n, target), 0, 1)
    return pd.DataFrame(out)
