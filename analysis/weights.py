"""Weighted estimates for the sampled survey (DOMAIN.md §6): weights, variance, Korn–Graubard.

Input is one row per sampled person: stratum columns, `responded` (bool) and one column per
satisfaction item holding its code (1–5; 0 or missing = no answer). Steps, each a column:
  w_design = N_h / n_h                  (n_h = persons sampled in stratum h)
  w_nr     = w_design · Σ_h w / Σ_h,resp w   for respondents, 0 otherwise (response is taken
             as a random subsample within the stratum)
  w_post   = w_nr · N_g / Σ_g w_nr      (post-strata g, e.g. unit × field dossier counts)
Estimate of the satisfied share among those answering item y (a domain ratio):
  p̂ = Σ w d y / Σ w d,   d = answered, y = code >= 4.
Variance by Taylor linearisation for a stratified single-stage design: with
  u_i = d_i (y_i − p̂) / Σ w d, residualised within post-strata (u_i − ū_g, ū weighted) when
  post-stratified, and z_i = w_i u_i over respondents,
  v(p̂) = Σ_h (1 − f_h) · m_h/(m_h − 1) · Σ_i (z_hi − z̄_h)²,  m_h respondents, f_h = m_h/N_h.
Korn–Graubard 95% interval (Korn & Graubard 1998; as R survey::svyciprop(method="beta")):
  n* = p̂(1 − p̂)/v  (capped at the domain n, NCHS practice, when cap=True; n* = n if v = 0),
  n*_df = n* · (t_{n−1, α/2} / t_{df, α/2})²,  df = respondents − strata,
  [Beta_{α/2}(n*_df p̂, n*_df(1 − p̂) + 1), Beta_{1−α/2}(n*_df p̂ + 1, n*_df(1 − p̂))]
  i.e. Clopper–Pearson at the effective sample size; 0 and 1 at the ends.
Design effect deff = v / (p̂(1 − p̂)/n), effective n = n / deff.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def _by(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def design_weights(
    sample: pd.DataFrame, population: pd.DataFrame, *, strata: str | Sequence[str], size: str = "N"
) -> pd.DataFrame:
    """Add w_design = N_h / n_h (persons sampled, responding or not)."""
    keys = _by(strata)
    n_h = sample.groupby(keys, dropna=False)[keys[0]].transform("size")
    N_h = sample[keys].merge(population[[*keys, size]], on=keys, how="left", validate="many_to_one")[size].to_numpy()
    if np.isnan(N_h.astype(float)).any():
        missing = sample.loc[np.isnan(N_h.astype(float)), keys].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"no population size for stratum/strata {missing}")
    return sample.assign(w_design=N_h / n_h.to_numpy())


def adjust_nonresponse(
    sample: pd.DataFrame, *, strata: str | Sequence[str], responded: str = "responded", weight: str = "w_design"
) -> pd.DataFrame:
    """Add w_nr: respondents carry the weight of the non-respondents of their stratum."""
    keys = _by(strata)
    resp = sample[responded].astype(bool)
    w = sample[weight]
    total = w.groupby([sample[k] for k in keys], dropna=False).transform("sum")
    answered = w.where(resp, 0.0).groupby([sample[k] for k in keys], dropna=False).transform("sum")
    if ((answered == 0) & (total > 0)).any():
        empty = sample.loc[(answered == 0) & (total > 0), keys].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"stratum/strata {empty} have no respondents; collapse them before weighting")
    return sample.assign(w_nr=np.where(resp, w * total / answered.where(answered > 0, 1.0), 0.0))


def post_stratify(
    sample: pd.DataFrame,
    totals: pd.DataFrame,
    *,
    classes: str | Sequence[str],
    size: str = "N",
    weight: str = "w_nr",
) -> pd.DataFrame:
    """Add w_post: weights of each post-stratum sum to its dossier count."""
    keys = _by(classes)
    w = sample[weight]
    have = w.groupby([sample[k] for k in keys], dropna=False).transform("sum").to_numpy()
    want = sample[keys].merge(totals[[*keys, size]], on=keys, how="left", validate="many_to_one")[size].to_numpy(dtype=float)
    if np.isnan(want).any():
        missing = sample.loc[np.isnan(want), keys].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"no dossier count for post-stratum/strata {missing}")
    weighted = w.groupby([sample[k] for k in keys], dropna=False).sum().rename("_have").reset_index()
    check = totals[[*keys, size]].merge(weighted, on=keys, how="left").fillna({"_have": 0.0})
    uncovered = check.loc[(check[size] > 0) & (check["_have"] <= 0), keys].head(5).to_dict("records")
    if uncovered:
        raise ValueError(f"post-stratum/strata {uncovered} have dossiers but no respondents; collapse them")
    with np.errstate(invalid="ignore", divide="ignore"):
        return sample.assign(w_post=np.where(have > 0, w.to_numpy() * want / have, 0.0))


def _stratified_variance(z: np.ndarray, stratum: np.ndarray, N_h: np.ndarray | None) -> float:
    """Σ_h (1 − f_h) m_h/(m_h − 1) Σ (z − z̄_h)² over the respondents of each stratum."""
    frame = pd.DataFrame({"z": z, "h": stratum})
    g = frame.groupby("h", sort=False)["z"]
    m = g.transform("size").to_numpy(dtype=float)
    if (m < 2).any():
        lonely = sorted(map(str, frame.loc[m < 2, "h"].unique()))
        raise ValueError(f"stratum/strata {lonely} have a single respondent: the variance is undefined; collapse them")
    dev2 = (z - g.transform("mean").to_numpy()) ** 2
    fpc = 1 - m / N_h if N_h is not None else 1.0
    return float(np.sum(fpc * m / (m - 1) * dev2))


def estimate_proportion(
    sample: pd.DataFrame,
    items: str | Sequence[str],
    *,
    strata: str | Sequence[str],
    weight: str = "w_post",
    responded: str = "responded",
    population: pd.DataFrame | None = None,
    size: str = "N",
    classes: str | Sequence[str] | None = None,
    level: float = 0.95,
    cap: bool = True,
) -> pd.DataFrame:
    """Weighted satisfied % per item with Taylor SE, Korn–Graubard interval, deff and effective n."""
    keys = _by(strata)
    resp = sample[sample[responded].astype(bool)]
    stratum = resp.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    N_h = None
    if population is not None:
        N_h = resp[keys].merge(population[[*keys, size]], on=keys, how="left")[size].to_numpy(dtype=float)
    group = resp.groupby(_by(classes), sort=False, dropna=False).ngroup().to_numpy() if classes is not None else None
    w = resp[weight].to_numpy(dtype=float)
    rows = []
    for item in _by(items):
        code = resp[item].to_numpy(dtype=float)
        d = (code >= 1) & (code <= 5)
        y = (code >= 4).astype(float)
        n = int(d.sum())
        wd = w * d
        p = float(np.sum(wd * y) / wd.sum()) if n else np.nan
        u = np.where(d, y - p, 0.0) / wd.sum() if n else np.zeros_like(w)
        if group is not None:  # residualise on the post-strata: ū_g weighted by w
            sums = pd.DataFrame({"wu": w * u, "w": w, "g": group}).groupby("g")[["wu", "w"]].transform("sum")
            u = u - (sums["wu"] / sums["w"]).to_numpy()
        v = _stratified_variance(w * u, stratum, N_h) if n else np.nan
        df = len(resp) - len(np.unique(stratum))
        rows.append({"item": item, "n": n, "p": p, "v": v, "df": df})
    out = pd.DataFrame(rows)
    return out.join(_korn_graubard(out["p"], out["v"], out["n"], out["df"], level=level, cap=cap)).assign(
        pct=100 * out["p"], se_pct=100 * np.sqrt(out["v"])
    ).drop(columns=["p", "v"])[["item", "n", "pct", "se_pct", "ci_low", "ci_high", "deff", "n_eff", "n_eff_kg", "df"]]


def _korn_graubard(p: pd.Series, v: pd.Series, n: pd.Series, df: pd.Series, *, level: float, cap: bool) -> pd.DataFrame:
    """Korn–Graubard interval (percent), design effect and effective n (module doc)."""
    p, v, n, df = (np.asarray(a, dtype=float) for a in (p, v, n, df))
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(v > 0, p * (1 - p) / v, n)
        deff = v / (p * (1 - p) / n)
        n_star = np.minimum(n_eff, n) if cap else n_eff
        n_star = n_star * (stats.t.ppf(alpha / 2, n - 1) / stats.t.ppf(alpha / 2, df)) ** 2
        x = n_star * p
        lo = np.where(x > 0, stats.beta.ppf(alpha / 2, x, n_star - x + 1), 0.0)
        hi = np.where(x < n_star, stats.beta.ppf(1 - alpha / 2, x + 1, n_star - x), 1.0)
    return pd.DataFrame({"ci_low": 100 * lo, "ci_high": 100 * hi, "deff": deff, "n_eff": n_eff, "n_eff_kg": n_star})
