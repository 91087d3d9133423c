"""analysis.report: the standard report end to end on a small hand-checkable data set."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.report import format_pct_vi, funnel_table, standard_report, to_csv, to_records
from analysis.targets import load_targets
from questionnaires.loader import load_file

SIPAS = load_file(Path(__file__).resolve().parents[2] / "questionnaires" / "sipas-2017.yaml")
TREE = pd.DataFrame({"unit": ["tinh", "xa-a", "xa-b"], "parent": [None, "tinh", "tinh"],
                     "name": ["Tỉnh", "Xã A", "Xã B"], "kind": ["province", "commune", "commune"]})


def counts() -> pd.DataFrame:
    """Every SIPAS criterion and the overall item: xa-a 95/100 satisfied, xa-b 285/300, per field."""
    rows = []
    items = [r["item"] for r in SIPAS.structure()] + ["overall"]
    for unit, field, sat, n in [("xa-a", "dat-dai", 95, 100), ("xa-b", "tu-phap-ho-tich", 285, 300)]:
        for item in items:
            for code, k in ((5, sat), (2, n - sat), (0, 4)):
                rows.append({"unit": unit, "field": field, "period": pd.Period("2025", "Y"), "source": "feedback",
                             "item": item, "code": code, "n": k, "flagged": False, "flag_reason": None})
        rows.append({"unit": unit, "field": field, "period": pd.Period("2025", "Y"), "source": "feedback",
                     "item": "overall", "code": 5, "n": 7, "flagged": True, "flag_reason": "duplicate"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def report():
    return standard_report(counts(), SIPAS.structure(), SIPAS.rollup, tree=TREE, targets=load_targets(), kind=SIPAS.kind)


def test_tables_cover_units_fields_elements_and_criteria(report):
    crit = report.table("criterion")
    assert set(crit["unit"]) == {"tinh", "xa-a", "xa-b"}
    assert set(crit["field"]) == {"all", "dat-dai", "tu-phap-ho-tich"}
    assert len(report.table("element")) == 5 * len(report.table("overall_index"))
    assert crit.groupby(["unit", "field"]).size().eq(22).all()
    province = report.table("overall_item").set_index(["unit", "field"]).loc[("tinh", "all")]
    assert (province["n"], province["n_satisfied"], province["n_excluded"]) == (400, 380, 14)
    assert province["pct"] == pytest.approx(95.0)
    # every criterion has the same split, so every index equals it
    assert report.table("overall_index").query("unit == 'xa-a'")["pct"].to_numpy() == pytest.approx(95.0)


def test_verdicts_follow_the_issue_edge_cases(report):
    v = report.verdicts.set_index(["target_id", "unit", "field"])
    assert v.loc[("nq76-2025-tthc", "xa-a", "all"), "verdict"] == "chua_du_co_so"  # 95 of 100 vs 90%
    assert v.loc[("nq76-2025-tthc", "xa-b", "all"), "verdict"] == "dat"  # 285 of 300 vs 90%
    assert v.loc[("nq76-2025-tthc", "tinh", "all"), "verdict"] == "dat"  # 380 of 400
    assert not report.verdicts["indicator"].isin(["health", "education"]).any()
    assert ("nq76-2025-dat-dai", "xa-a", "dat-dai") in v.index
    assert "76/NQ-CP" in v.loc[("nq76-2025-tthc", "xa-a", "all"), "source_document"]


def test_exclusions_and_method_travel_with_the_report(report):
    assert report.excluded[["unit", "flag_reason", "responses"]].values.tolist() == [
        ["xa-a", "duplicate", 7], ["xa-b", "duplicate", 7]]
    assert report.method["element_rule"] == "mean_of_criteria"
    assert report.method["overall_rule"] == "mean_of_elements"
    assert "excluded" in report.method["flagged"]


def test_field_table_puts_the_index_beside_field_satisfaction(report):
    table = report.field_table().set_index(["unit", "field"])
    assert table.loc[("xa-b", "tu-phap-ho-tich"), ["pct", "pct_index"]].tolist() == pytest.approx([95.0, 95.0])


def test_records_are_json_ready(report):
    records = to_records(report.verdicts)
    text = json.dumps(records, ensure_ascii=False)
    assert '"period": "2025"' in text and "NaN" not in text
    first = records[0]
    assert first["more_needed"] is None or isinstance(first["more_needed"], int)


def test_csv_round_trip(report, tmp_path):
    frame = report.table("overall_item")
    back = pd.read_csv(pd.io.common.StringIO(to_csv(frame)))
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    to_csv(frame, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_format_pct_vi():
    assert format_pct_vi(92.5) == "92,5%"
    assert format_pct_vi(84.0, digits=2) == "84,00%"
    assert format_pct_vi(float("nan")) == "–"


def test_funnel_zones(report):
    table = funnel_table(report.figures, 90).set_index(["unit", "field"])
    for _, row in table.iterrows():
        assert row["lo998"] < row["lo95"] < 90 < row["hi95"] < row["hi998"]
        pct = row["pct"]
        expected = ("above_99.8" if pct > row["hi998"] else "above_95" if pct > row["hi95"]
                    else "below_99.8" if pct < row["lo998"] else "below_95" if pct < row["lo95"] else "within")
        assert row["zone"] == expected
    # 380 of 400 = 95% is far above a 90% target at n = 400
    assert table.loc[("tinh", "all"), "zone"] == "above_99.8"
    assert (table["n_eff"] >= 30).all()


def test_comprehensive_rows_when_the_form_asks_for_them():
    rollup = {"element": "mean_of_criteria", "overall": "mean_of_elements", "overall_item": None, "comprehensive": True}
    structure = [{"item": "a", "element": "e1"}, {"item": "b", "element": "e1"}]
    responses = pd.DataFrame({
        "response_id": [1, 1, 2, 2, 3, 3], "unit": "xa-a", "source": "feedback", "item": ["a", "b"] * 3,
        "code": [5, 4, 5, 2, 4, 0],
    })
    from analysis.figures import to_counts

    out = standard_report(to_counts(responses), structure, rollup, by=["unit"], responses=responses, tree=TREE)
    comp = out.table("comprehensive").set_index("unit")
    assert comp.loc["xa-a", "pct"] == pytest.approx(200 / 3)
    assert comp.loc["tinh", "n"] == 3 and np.isnan(comp.loc["tinh", "mean"])


def test_a_report_without_period_withholds_verdicts_and_says_why():
    """Issue #11 item 8: figures pooled over all dates are never judged against dated targets."""
    pooled = standard_report(counts(), SIPAS.structure(), SIPAS.rollup, by=("unit", "field"), tree=TREE,
                             targets=load_targets(), kind=SIPAS.kind)
    assert pooled.verdicts.empty and not pooled.table("overall_item").empty
    assert "'period'" in pooled.method["verdicts_withheld"] and "2025" in pooled.method["verdicts_withheld"]
    dated = standard_report(counts(), SIPAS.structure(), SIPAS.rollup, tree=TREE, targets=load_targets(), kind=SIPAS.kind)
    assert "verdicts_withheld" not in dated.method
    assert set(dated.verdicts["target_period"]) == {"2025"}  # the 2030 targets have no 2025 rows to judge
    assert {"period", "target_period", "n", "source_document", "p_at_least_target", "p_below_target"} <= set(dated.verdicts)
