"""Sample size, allocation across strata and auditable selection (DOMAIN.md §6).

Sizes are computed unrounded and rounded up once, at the end, so that the finite-population
correction and the response-rate inflation do not each add a respondent. Allocation never
exceeds a stratum's population and sums exactly to the total by largest-remainder rounding.
Selection orders each stratum by sha256(f"{seed}:{dossier_id}"): anyone holding the frame and
the seed can redo it by hand, and the ranks after n_h are the ordered reserve list. `select` says
it plainly on a DataFrame; `selection_words` and `first_ranks` give the same order on a
million-row frame in a fraction of a second (numpy on the digests, no DataFrame of strings).
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from analysis.inference import z_value

METHODS = frozenset({"proportional", "equal", "neyman", "quota"})


def cochran(N: float | None = None, *, e: float = 0.05, p: float = 0.5, level: float = 0.95) -> float:
    """Cochran's n0 = z²pq/e², with finite-population correction n0 / (1 + (n0 - 1)/N); unrounded."""
    n0 = z_value(level) ** 2 * p * (1 - p) / e**2
    return n0 if N is None else n0 / (1 + (n0 - 1) / N)


def yamane(N: float, *, e: float = 0.05) -> float:
    """Yamane's n = N / (1 + N e²), the Ministry-guidance variant; unrounded."""
    return N / (1 + N * e**2)


def sample_size(
    N: int | None = None,
    *,
    method: str = "cochran",
    e: float = 0.05,
    p: float = 0.5,
    level: float = 0.95,
    response_rate: float = 1.0,
) -> int:
    """Forms to send: the formula's n inflated for the expected response rate, rounded up once, at most N."""
    if not 0 < response_rate <= 1:
        raise ValueError(f"response_rate must be in (0, 1], got {response_rate}")
    if method == "cochran":
        n = cochran(N, e=e, p=p, level=level)
    elif method == "yamane":
        if N is None:
            raise ValueError("Yamane's formula needs the population size N")
        n = yamane(N, e=e)
    else:
        raise ValueError(f"method must be 'cochran' or 'yamane', got {method!r}")
    # the tiny tolerance keeps float noise (e.g. 278.0000000001) from adding a form
    out = math.ceil(n / response_rate - 1e-9)
    return out if N is None else min(out, int(N))


def largest_remainder(raw: Sequence[float] | np.ndarray, total: int) -> np.ndarray:
    """Integers summing to `total`, each floor or ceil of raw; ties go to the earlier stratum."""
    raw = np.asarray(raw, dtype=float)
    base = np.floor(raw + 1e-9).astype(np.int64)
    extra = int(total - base.sum())
    if extra:
        order = np.argsort(-(raw - base), kind="stable")[:extra]
        base[order] += 1
    return base


def _water_fill(score: np.ndarray, lower: np.ndarray, upper: np.ndarray, n: float) -> np.ndarray:
    """Real allocation λ·score clipped to [lower, upper] summing to n (bisection on λ)."""
    if n >= upper.sum():
        return upper.astype(float)
    if n <= lower.sum():
        return lower.astype(float)
    lo, hi = 0.0, 1.0
    while np.clip(hi * score, lower, upper).sum() < n:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.clip(mid * score, lower, upper).sum() < n else (lo, mid)
    alloc = np.clip(hi * score, lower, upper)
    free = (alloc > lower) & (alloc < upper)
    if free.any():  # exact share for unconstrained strata so the total is exact
        alloc[free] = (n - alloc[~free].sum()) * score[free] / score[free].sum()
    return alloc


def allocate(
    strata: pd.DataFrame,
    n: int | None = None,
    *,
    method: str = "proportional",
    size: str = "N",
    minimum: int = 0,
    quota: int | str | None = None,
    sd: str = "sd",
) -> pd.DataFrame:
    """Add n_h to a strata table (one row per stratum, population in `size`).

    proportional ∝ N_h; equal; neyman ∝ N_h·S_h (S_h in column `sd`); quota: a fixed number
    per stratum (int, or a column name). Every stratum gets at least min(minimum, N_h) and at
    most N_h; when the minimums alone exceed n they win and the total is larger than n.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    N_h = strata[size].to_numpy(dtype=np.int64)
    if (N_h < 0).any():
        raise ValueError("stratum population sizes must be >= 0")
    if method == "quota":
        if quota is None:
            raise ValueError("method 'quota' needs quota= (a number or a column name)")
        want = strata[quota].to_numpy(dtype=np.int64) if isinstance(quota, str) else np.full(len(N_h), int(quota))
        return strata.assign(n_h=np.minimum(np.maximum(want, np.minimum(minimum, N_h)), N_h))
    if n is None:
        raise ValueError(f"method {method!r} needs the total sample size n")
    if method == "neyman" and sd not in strata:
        raise ValueError(f"Neyman allocation needs the stratum standard deviations in column {sd!r}")
    score = {"proportional": N_h.astype(float), "equal": (N_h > 0).astype(float),
             "neyman": N_h * strata[sd].to_numpy(dtype=float) if method == "neyman" else None}[method]
    lower = np.minimum(minimum, N_h)
    real = _water_fill(score, lower, N_h, float(n))
    fixed = np.isclose(real, lower) | np.isclose(real, N_h)
    target = int(round(real.sum()))
    n_h = np.where(fixed, np.round(real), 0).astype(np.int64)
    n_h[~fixed] = largest_remainder(real[~fixed], target - int(n_h[fixed].sum()))
    return strata.assign(n_h=n_h)


def selection_key(seed: str, dossier_id: object) -> str:
    """sha256 hex of 'seed:dossier_id', the published ordering key."""
    return hashlib.sha256(f"{seed}:{dossier_id}".encode()).hexdigest()


def select(
    frame: pd.DataFrame,
    allocation: pd.DataFrame,
    *,
    seed: str,
    by: Sequence[str],
    id_column: str = "dossier_id",
    size: str = "n_h",
) -> pd.DataFrame:
    """Rank each stratum by the sha256 key; ranks 1..n_h are selected, the rest the ordered reserve."""
    by = list(by)
    if frame[id_column].duplicated().any():
        raise ValueError(f"duplicate {id_column} in the sampling frame; each dossier may appear once")
    merged = frame.merge(allocation[[*by, size]], on=by, how="left", validate="many_to_one")
    if merged[size].isna().any():
        missing = merged.loc[merged[size].isna(), by].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"stratum/strata {missing} have dossiers but no allocation")
    keyed = merged.assign(key=[selection_key(seed, d) for d in merged[id_column]])
    keyed = keyed.sort_values([*by, "key"], kind="stable").reset_index(drop=True)
    rank = keyed.groupby(by, sort=False, dropna=False).cumcount() + 1
    selected = rank <= keyed[size]
    reserve = (rank - keyed[size]).where(~selected).astype("Int64")
    return keyed.assign(rank=rank, selected=selected, reserve_rank=reserve).drop(columns=[size])


def selection_words(seed: str, ids: Iterable[str]) -> np.ndarray:
    """sha256(seed ":" id) of each id as an (n, 4) array of big-endian uint64 words: comparing the
    rows word by word is comparing the digests (and their hex, the published key) byte by byte."""
    prefix, sha256 = f"{seed}:".encode(), hashlib.sha256
    digests = b"".join([sha256(prefix + i.encode()).digest() for i in ids])
    return np.frombuffer(digests, dtype=">u8").reshape(-1, 4)


def first_ranks(strata: np.ndarray, words: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, ranks) of the first keep[s] rows of each stratum s in digest order, by stratum
    then rank: the head of `select`'s order without sorting strings. `strata` holds each row's
    stratum number 0..len(keep)-1, `words` its `selection_words`. Rows are sorted on the first word
    (radix-sorted by stratum after); should two rows of a stratum share it, all four words decide."""
    strata = np.asarray(strata).astype(np.int16 if len(keep) < 2**15 else np.int64)
    by_key = np.argsort(words[:, 0], kind="stable")
    order = by_key[np.argsort(strata[by_key], kind="stable")]
    s, first = strata[order], words[order, 0]
    if ((s[1:] == s[:-1]) & (first[1:] == first[:-1])).any():  # about 1 in 10^7 draws of a million rows
        order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0], strata))
        s = strata[order]
    starts = np.searchsorted(s, np.arange(len(keep)))
    rank = np.arange(1, len(s) + 1) - starts[s]
    take = rank <= np.asarray(keep)[s]
    return order[take], rank[take]
