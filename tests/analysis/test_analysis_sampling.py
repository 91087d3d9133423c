"""analysis.sampling: sizes by hand formulas, allocation rules, reproducible selection."""
import hashlib
import math

import pandas as pd
import pytest

from analysis.sampling import allocate, cochran, largest_remainder, sample_size, select, yamane

Z95 = 1.959963984540054


def test_cochran_with_finite_population_correction_by_hand():
    n0 = Z95**2 * 0.5 * 0.5 / 0.05**2  # 384.146
    n = n0 / (1 + (n0 - 1) / 1000)  # 277.74
    assert cochran(1000) == pytest.approx(n)
    assert sample_size(1000) == math.ceil(n) == 278
    assert sample_size() == math.ceil(n0) == 385


def test_round_up_only_at_the_end():
    n = cochran(1000) / 0.6  # 462.9 → 463; rounding first would give ceil(278 / 0.6) = 464
    assert sample_size(1000, response_rate=0.6) == math.ceil(n) == 463


def test_yamane_by_hand_and_cap_at_population():
    assert yamane(1000) == pytest.approx(1000 / (1 + 1000 * 0.0025))
    assert sample_size(1000, method="yamane") == 286
    assert sample_size(500, method="yamane") == math.ceil(500 / 2.25) == 223
    assert sample_size(40, response_rate=0.3) == 40  # never more forms than dossiers


def test_largest_remainder():
    assert largest_remainder([1.5, 1.5, 1.0], 4).tolist() == [2, 1, 1]
    assert largest_remainder([0.2, 0.3, 2.5], 3).tolist() == [0, 0, 3]


STRATA = pd.DataFrame({"unit": ["x", "y", "z", "w"], "N": [1000, 300, 50, 5], "sd": [0.5, 0.3, 0.4, 0.5]})


def test_proportional_with_minimum_and_take_all():
    out = allocate(STRATA, 300, minimum=30)["n_h"].tolist()
    # w takes all 5, z gets its minimum 30; 265 left ∝ 1000:300 → 203.85, 61.15
    assert out == [204, 61, 30, 5]


def test_proportional_plain_by_hand():
    raw = [300 * N / 1355 for N in STRATA["N"]]  # 221.40, 66.42, 11.07, 1.107
    assert allocate(STRATA, 300)["n_h"].tolist() == largest_remainder(raw, 300).tolist() == [221, 67, 11, 1]


def test_equal_and_neyman():
    assert allocate(STRATA, 300, method="equal")["n_h"].tolist() == [123, 122, 50, 5]
    # Neyman ∝ N_h S_h = 500, 90, 20, 2.5 → 244.9, 44.08, 9.80, 1.22 of 300
    weights = [1000 * 0.5, 300 * 0.3, 50 * 0.4, 5 * 0.5]
    raw = [300 * w / sum(weights) for w in weights]
    assert allocate(STRATA, 300, method="neyman")["n_h"].tolist() == largest_remainder(raw, 300).tolist()


def test_fixed_quota_never_above_population():
    assert allocate(STRATA, method="quota", quota=90)["n_h"].tolist() == [90, 90, 50, 5]
    quotas = STRATA.assign(q=[150, 200, 200, 1])
    assert allocate(quotas, method="quota", quota="q")["n_h"].tolist() == [150, 200, 50, 1]


def test_allocation_errors():
    with pytest.raises(ValueError, match="Neyman"):
        allocate(STRATA.drop(columns="sd"), 100, method="neyman")
    with pytest.raises(ValueError, match="quota"):
        allocate(STRATA, method="quota")


FRAME = pd.DataFrame({"unit": ["x"] * 6 + ["y"] * 4, "dossier_id": [f"HS-{i:03d}" for i in range(10)]})
ALLOC = pd.DataFrame({"unit": ["x", "y"], "n_h": [2, 3]})


def test_selection_orders_by_sha256_and_lists_reserves():
    out = select(FRAME, ALLOC, seed="2025-Q1", by=["unit"])
    x = out[out["unit"] == "x"]
    by_hand = sorted(FRAME.loc[FRAME["unit"] == "x", "dossier_id"],
                     key=lambda d: hashlib.sha256(f"2025-Q1:{d}".encode()).hexdigest())
    assert x["dossier_id"].tolist() == by_hand
    assert x["selected"].tolist() == [True, True, False, False, False, False]
    assert x["reserve_rank"].tolist()[2:] == [1, 2, 3, 4]
    assert out.groupby("unit")["selected"].sum().to_dict() == {"x": 2, "y": 3}


def test_selection_is_repeatable_and_seed_dependent():
    a = select(FRAME, ALLOC, seed="s", by=["unit"])
    assert a.equals(select(FRAME.sample(frac=1, random_state=1), ALLOC, seed="s", by=["unit"]))
    assert not a["dossier_id"].equals(select(FRAME, ALLOC, seed="t", by=["unit"])["dossier_id"])


def test_selection_needs_an_allocation_for_every_stratum():
    with pytest.raises(ValueError, match="no allocation"):
        select(FRAME, ALLOC[ALLOC["unit"] == "x"], seed="s", by=["unit"])
