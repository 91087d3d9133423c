"""Properties that must hold for any data (hypothesis)."""
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.figures import all_levels, roll_up, tally
from analysis.inference import wilson_interval
from analysis.sampling import allocate

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
codes = st.lists(st.integers(0, 40), min_size=6, max_size=6)  # n for codes 0..5
STRUCTURE = [{"item": "a1", "element": "e1"}, {"item": "a2", "element": "e1"}, {"item": "b1", "element": "e2"}]
RULES = [
    {"element": "mean_of_criteria", "overall": "mean_of_elements"},
    {"element": "pooled", "overall": "pooled"},
    {"element": "mean_of_criteria", "overall": "weighted", "weights": {"e1": 2, "e2": 1}},
]


def frame(by_item: dict[str, list[int]]) -> pd.DataFrame:
    return pd.DataFrame([{"unit": "u", "source": "sample", "item": item, "code": c, "n": n}
                         for item, ns in by_item.items() for c, n in enumerate(ns)])


@SETTINGS
@given(a1=codes, a2=codes, b1=codes, rule=st.sampled_from(RULES))
def test_percentages_bounded_and_intervals_contain_them(a1, a2, b1, rule):
    out = all_levels(tally(frame({"a1": a1, "a2": a2, "b1": b1}), ["unit"]), STRUCTURE, rule)
    has = out[out["n"] > 0]
    assert ((has["pct"] >= 0) & (has["pct"] <= 100)).all()
    assert ((has["ci_low"] <= has["pct"] + 1e-9) & (has["pct"] <= has["ci_high"] + 1e-9)).all()
    assert ((has["ci_low"] >= 0) & (has["ci_high"] <= 100)).all()
    assert (has["n_eff"] <= has["n"] + 1e-9).all()


@SETTINGS
@given(a1=codes, a2=codes, b1=codes, rule=st.sampled_from(RULES), item=st.sampled_from(["a1", "a2", "b1"]),
       code=st.sampled_from([4, 5]))
def test_a_satisfied_answer_never_lowers_a_percentage(a1, a2, b1, rule, item, code):
    data = {"a1": a1, "a2": a2, "b1": b1}
    before = all_levels(tally(frame(data), ["unit"]), STRUCTURE, rule)
    data[item] = [n + (c == code) for c, n in enumerate(data[item])]
    after = all_levels(tally(frame(data), ["unit"]), STRUCTURE, rule)
    key = ["level", "element", "item"]
    merged = before.merge(after, on=key, suffixes=("_0", "_1"))
    known = merged.dropna(subset=["pct_0"])
    assert (known["pct_1"] >= known["pct_0"] - 1e-9).all()


@st.composite
def trees(draw):
    """Random forests of any depth: each new unit hangs under an earlier one or is a root."""
    size = draw(st.integers(1, 12))
    parents = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, size)]
    return pd.DataFrame({"unit": [f"u{i}" for i in range(size)],
                         "parent": [None if p is None else f"u{p}" for p in parents],
                         "name": "x", "kind": "x"})


@SETTINGS
@given(tree=trees(), data=st.data())
def test_roll_up_parents_equal_own_plus_children(tree, data):
    units = tree["unit"].tolist()
    counts = pd.DataFrame([{"unit": u, "source": "feedback", "item": "c1", "code": c,
                            "n": data.draw(st.integers(0, 20))} for u in units for c in (1, 4)])
    own = tally(counts, ["unit"]).set_index("unit")["n"]
    rolled = roll_up(tally(counts, ["unit"]), tree).set_index("unit")["n"]
    for unit, parent in zip(tree["unit"], tree["parent"]):
        children = tree.loc[tree["parent"] == unit, "unit"]
        assert rolled[unit] == own[unit] + rolled[children].sum()
    roots = tree.loc[tree["parent"].isna(), "unit"]
    assert rolled[roots].sum() == own.sum()


@SETTINGS
@given(x=st.integers(0, 500), extra=st.integers(0, 500), level=st.sampled_from([0.9, 0.95, 0.99]))
def test_wilson_contains_the_estimate(x, extra, level):
    n = x + extra
    if n == 0:
        return
    lo, hi = wilson_interval(x, n, level)
    assert 0 <= lo <= x / n <= hi <= 1


@SETTINGS
@given(sizes=st.lists(st.integers(0, 500), min_size=1, max_size=8), n=st.integers(0, 2000),
       minimum=st.integers(0, 40), method=st.sampled_from(["proportional", "equal", "neyman"]))
def test_allocation_sums_and_bounds(sizes, n, minimum, method):
    strata = pd.DataFrame({"N": sizes, "sd": np.linspace(0.2, 0.5, len(sizes))})
    n_h = allocate(strata, n, method=method, minimum=minimum)["n_h"].to_numpy()
    N = np.array(sizes)
    floor = np.minimum(minimum, N)
    assert ((n_h >= floor) & (n_h <= N)).all()
    assert n_h.sum() == max(min(n, N.sum()), floor.sum())
