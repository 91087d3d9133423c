"""analysis.targets: shipped data, validation, and evaluation against figure rows."""
import dataclasses
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep

from analysis.targets import PeriodNeeded, TargetError, evaluate_targets, load_targets, parse_targets

SEEDS = Path("/work/shared/seeds")


@pytest.fixture(scope="module")
def shipped():
    return {t.id: t for t in load_targets()}


def test_national_targets_match_domain_table(shipped):
    expected = {
        ("sipas_service", "all", 2025): 90, ("sipas_service", "all", 2030): 95,
        ("tthc", "all", 2025): 90, ("tthc", "all", 2030): 95,
        ("health", "all", 2025): 85, ("health", "all", 2030): 90,
        ("education", "all", 2025): 85, ("education", "all", 2030): 90,
        **{("field_satisfaction", f, y): v for f in ("dat-dai", "xay-dung", "dau-tu") for y, v in ((2025, 85), (2030, 90))},
    }
    national = {(t.indicator, t.field, int(t.period)): t for t in shipped.values() if t.id.startswith("nq76-")}
    assert set(national) == set(expected)
    for key, threshold in expected.items():
        t = national[key]
        assert (t.threshold, t.comparator, t.scope) == (threshold, ">=", "all")
        assert "76/NQ-CP" in t.source


def test_local_targets_from_the_seed_plans(shipped):
    tb = shipped["thang-binh-2021-sipas"]
    assert (tb.comparator, tb.threshold, tb.period, tb.indicator) == (">", 85, "2021", "sipas_service")
    assert "53/KH-UBND" in tb.source
    mt = {k: v for k, v in shipped.items() if k.startswith("minh-tien-2024")}
    assert (mt["minh-tien-2024-sipas"].comparator, mt["minh-tien-2024-sipas"].threshold) == (">", 95)
    assert (mt["minh-tien-2024-tthc"].comparator, mt["minh-tien-2024-tthc"].threshold) == (">", 90)
    assert (mt["minh-tien-2024-dat-dai"].comparator, mt["minh-tien-2024-dat-dai"].threshold) == (">=", 85)
    assert (mt["minh-tien-2024-digital"].threshold, mt["minh-tien-2024-digital"].channel) == (95, "web")
    yoy = mt["minh-tien-2024-sipas-yoy"]
    assert (yoy.comparator, yoy.threshold) == ("higher_than_previous", None)
    assert all("23/KH-UBND" in t.source for t in mt.values())
    edu = shipped["muong-te-2025-education"]
    assert (edu.indicator, edu.threshold, edu.period) == ("education", 85, "2025")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed plans not available")
def test_every_quoted_sentence_is_in_a_seed_plan(shipped):
    corpus = _norm(" ".join(p.read_text(encoding="utf-8").replace("*", "") for p in SEEDS.glob("*.txt")))
    for t in shipped.values():
        quotes = re.findall(r'"([^"]+)"', t.source)
        sentences = [q for q in quotes if "hài lòng" in q]
        assert sentences, f"{t.id} quotes no sentence about satisfaction"
        for sentence in sentences:
            assert _norm(sentence) in corpus, f"{t.id}: quote not found in the seeds: {sentence[:60]}…"


def test_targets_are_frozen(shipped):
    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped["nq76-2025-sipas"].threshold = 50


GOOD = {"id": "t1", "indicator": "tthc", "scope": "all", "field": "all", "comparator": ">=", "threshold": 90,
        "period": 2025, "source": 'Plan 1/KH: "Mức độ hài lòng đạt 90%."'}


@pytest.mark.parametrize("change,problem", [
    ({"comparator": "=>"}, "comparator '=>'"),
    ({"threshold": 120}, "between 0 and 100"),
    ({"comparator": "higher_than_previous"}, "threshold must be null"),
    ({"indicator": "happiness"}, "indicator 'happiness'"),
    ({"period": "2025-13"}, "period '2025-13'"),
    ({"indicator": "field_satisfaction"}, "needs a field code"),
    ({"colour": "red"}, "unknown field"),
    ({"source": None}, "source must quote"),
])
def test_validation_names_file_target_and_problem(change, problem):
    with pytest.raises(TargetError) as err:
        parse_targets({"targets": [{**GOOD, **change}]}, "plan.yaml")
    assert str(err.value).startswith("plan.yaml: target 't1': ")
    assert problem in str(err.value)


def test_missing_field_and_duplicate_ids(tmp_path):
    with pytest.raises(TargetError, match="missing threshold"):
        parse_targets({"targets": [{k: v for k, v in GOOD.items() if k != "threshold"}]}, "a.yaml")
    (tmp_path / "a.yaml").write_text("targets:\n  - {id: t1, indicator: tthc, scope: all, field: all, comparator: '>=', "
                                     "threshold: 90, period: 2025, source: 'Plan 1 says so, long enough'}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text((tmp_path / "a.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(TargetError, match=r"b.yaml: target 't1': id already used in a.yaml"):
        load_targets([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def test_period_ranges():
    t = parse_targets({"targets": [{**GOOD, "period": "2024-07/2025-Q2"}]})[0]
    assert t.start == pd.Timestamp("2024-07-01") and t.end.date() == pd.Timestamp("2025-06-30").date()


def row(unit, field, period, level, x, n, item=None):
    return {"unit": unit, "field": field, "period": pd.Period(period, "Y"), "source": "sample", "level": level,
            "element": None, "item": item, "n": n, "n_eff": float(n), "n_satisfied": x, "n_no_opinion": 0,
            "n_excluded": 0, "pct": 100 * x / n, "ci_low": np.nan, "ci_high": np.nan, "mean": np.nan,
            "bottom2_pct": np.nan, "net": np.nan}


TREE = pd.DataFrame({"unit": ["p", "d1", "c1", "c2"], "parent": [None, "p", "d1", "p"],
                     "name": list("PDAB"), "kind": ["province", "district", "commune", "commune"]})
FIGURES = pd.DataFrame([
    row("c1", "all", "2025", "overall_item", 285, 300, "overall"),
    row("c2", "all", "2025", "overall_item", 95, 100, "overall"),
    row("c2", "dat-dai", "2025", "overall_item", 70, 100, "overall"),
    row("c1", "all", "2024", "overall_item", 20, 100, "overall"),
    row("c1", "all", "2025", "overall_index", 90, 100),
    row("c1", "all", "2024", "overall_index", 70, 100),
])


def test_national_verdicts_on_totals_and_fields(shipped):
    out = evaluate_targets([shipped["nq76-2025-tthc"], shipped["nq76-2025-dat-dai"]], FIGURES)
    got = {(r.target_id, r.unit, r.field): r for r in out.itertuples()}
    assert set(got) == {("nq76-2025-tthc", "c1", "all"), ("nq76-2025-tthc", "c2", "all"), ("nq76-2025-dat-dai", "c2", "dat-dai")}
    assert got[("nq76-2025-tthc", "c1", "all")].verdict == "dat"  # 285/300 vs 90%
    c2 = got[("nq76-2025-tthc", "c2", "all")]
    assert (c2.verdict, c2.verdict_vi) == ("chua_du_co_so", "Chưa đủ cơ sở kết luận")  # 95/100 vs 90%
    assert c2.more_needed > 0
    land = got[("nq76-2025-dat-dai", "c2", "dat-dai")]
    assert land.verdict == "khong_dat"
    assert land.p_below_target == pytest.approx(stats.binomtest(70, 100, 0.85, alternative="less").pvalue)
    assert land.p_at_least_target == pytest.approx(stats.binomtest(70, 100, 0.85, alternative="greater").pvalue)
    assert land.p_holm_test == "p_below_target"
    assert "76/NQ-CP" in land.source_document


def test_holm_within_a_target(shipped):
    out = evaluate_targets([shipped["nq76-2025-tthc"]], FIGURES)
    chosen = [getattr(r, r.p_holm_test) for r in out.itertuples()]
    assert out["p_holm"].to_numpy() == pytest.approx(multipletests(chosen, method="holm")[1])


def test_scope_is_a_subtree():
    t = parse_targets({"targets": [{**GOOD, "scope": "d1"}]})[0]
    out = evaluate_targets([t], FIGURES, tree=TREE)
    assert out["unit"].tolist() == ["c1"]
    assert evaluate_targets([t], FIGURES).empty  # without a tree only d1 itself would match


def test_higher_than_previous_year():
    t = parse_targets({"targets": [{**GOOD, "indicator": "sipas_service", "comparator": "higher_than_previous",
                                    "threshold": None}]})[0]
    out = evaluate_targets([t], FIGURES).iloc[0]
    assert (out["unit"], str(out["period"]), out["previous_pct"]) == ("c1", "2025", 70.0)
    ref = confint_proportions_2indep(90, 100, 70, 100, method="newcomb", compare="diff", alpha=0.10)
    assert (out["diff_ci_low"], out["diff_ci_high"]) == pytest.approx(tuple(100 * r for r in ref))  # points
    assert out["diff"] == pytest.approx(20.0)
    assert out["verdict"] == "dat"


def test_indicator_filter_keeps_health_targets_off_sipas_figures(shipped):
    out = evaluate_targets([shipped["nq76-2025-health"], shipped["nq76-2025-sipas"]], FIGURES,
                           indicators=("sipas_service", "tthc"))
    assert set(out["target_id"]) == {"nq76-2025-sipas"}


def test_text_period_labels_are_understood(shipped):
    figures = FIGURES.assign(period=FIGURES["period"].astype(str))
    out = evaluate_targets([shipped["nq76-2025-tthc"]], figures)
    assert sorted(out["unit"]) == ["c1", "c2"]
    custom = figures.assign(period="dot-1")  # a custom range label is never inside a dated target
    assert evaluate_targets([shipped["nq76-2025-tthc"]], custom).empty


def test_each_p_value_names_its_one_sided_test(shipped):
    """Issue #11 item 9: both one-sided p-values, checked against scipy's exact binomial test."""
    out = evaluate_targets([shipped["nq76-2025-tthc"]], FIGURES).set_index("unit")
    assert "p_value" not in out  # a bare p-value does not say which test it is
    for unit, (x, n) in {"c1": (285, 300), "c2": (95, 100)}.items():
        row = out.loc[unit]
        assert row["p_at_least_target"] == pytest.approx(stats.binomtest(x, n, 0.9, alternative="greater").pvalue)
        assert row["p_below_target"] == pytest.approx(stats.binomtest(x, n, 0.9, alternative="less").pvalue)
        assert row["p_holm_test"] == "p_at_least_target"  # both estimates lie above 90%
    # hand-computed: P(X >= 285 | n=300, p=0.9) = sum_{k>=285} C(300,k) 0.9^k 0.1^(300-k)
    from math import comb
    tail = sum(comb(300, k) * 0.9**k * 0.1 ** (300 - k) for k in range(285, 301))
    assert out.loc["c1", "p_at_least_target"] == pytest.approx(tail, rel=1e-9)
    assert out.loc["c1", "verdict"] == "dat" and tail < 0.05


def test_a_target_judges_only_its_own_period(shipped):
    """Issue #11 item 8: the 2024 row (20/100) is not judged against a 2025 target, and figures
    without a period (2024 and 2025 pooled: 305/400) are refused, naming the target periods."""
    out = evaluate_targets([shipped["nq76-2025-tthc"]], FIGURES)
    assert {str(p) for p in out["period"]} == {"2025"}
    assert set(out["target_period"]) == {"2025"}
    assert out["n"].tolist() == [300, 100] and all("76/NQ-CP" in s for s in out["source_document"])
    assert set(out["target_file"]) == {"nq76-national.yaml"}
    pooled = FIGURES[FIGURES["level"] == "overall_item"].groupby(["unit", "field", "source", "level", "item"],
                                                                   as_index=False)[["n", "n_satisfied"]].sum()
    pooled = pooled.assign(n_eff=pooled["n"].astype(float), pct=100 * pooled["n_satisfied"] / pooled["n"])
    assert pooled.query("unit == 'c1' and field == 'all'")["n"].item() == 400
    with pytest.raises(PeriodNeeded, match=r"'period' in the report.s grouping.*2025"):
        evaluate_targets([shipped["nq76-2025-tthc"], shipped["nq76-2030-tthc"]], pooled)
    assert evaluate_targets([], pooled).empty  # no targets, nothing to refuse
