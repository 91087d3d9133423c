"""`flask targets load|list` and reports reading their targets from the database."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from survey.db import get_session
from survey.models import PlanTarget
from survey.reporting.selection import Selection
from survey.reporting.standard import standard_report
from tests.reporting.test_reports import seed

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {
    "targets": [
        {"id": "xa-x1-2025-tthc", "indicator": "tthc", "scope": "X1", "field": "all", "comparator": ">=",
         "threshold": 50, "period": 2025, "source": "Kế hoạch số 1/KH-UBND của UBND xã X1: đạt tối thiểu 50%."},
        {"id": "xa-x1-2025-dat-dai", "indicator": "field_satisfaction", "scope": "X1", "field": "dat-dai",
         "comparator": ">", "threshold": 99.5, "period": 2025, "source": "Kế hoạch số 1/KH-UBND của UBND xã X1: trên 99,5%."},
    ]
}


def write(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def english_cli(monkeypatch):
    """These tests read the English messages (the CLI speaks Vietnamese unless the locale says en)."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


def stored(app) -> dict[str, tuple[str, str]]:
    with app.app_context():
        return {r.target_id: (r.source_file, r.definition) for r in get_session().scalars(select(PlanTarget))}


def test_load_the_bundled_files_then_again_changes_nothing(app, runner, monkeypatch):
    files = sorted((ROOT / "targets").glob("*.yaml"))
    ids = [t["id"] for f in files for t in yaml.safe_load(f.read_text(encoding="utf-8"))["targets"]]
    first = runner.invoke(args=["targets", "load"])
    assert first.exit_code == 0, first.output
    assert f"Targets: {len(ids)} new, 0 updated, 0 removed, 0 unchanged." in first.output
    assert "+ nq76-2025-tthc (nq76-national.yaml): new" in first.output
    assert sorted(stored(app)) == sorted(ids)
    again = runner.invoke(args=["targets", "load"])
    assert again.exit_code == 0 and f"0 new, 0 updated, 0 removed, {len(ids)} unchanged" in again.output
    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")
    assert f"Chỉ tiêu: 0 mới, 0 cập nhật, 0 xoá, {len(ids)} không đổi." in runner.invoke(args=["targets", "load"]).output
    assert "+" not in again.output and "~" not in again.output


def test_reloading_a_changed_file_updates_adds_and_removes(app, runner, tmp_path):
    path = write(tmp_path / "xa-x1.yaml", LOCAL)
    assert runner.invoke(args=["targets", "load", str(path)]).exit_code == 0
    changed = copy.deepcopy(LOCAL)
    changed["targets"][0]["threshold"] = 60
    del changed["targets"][1]
    changed["targets"].append({**LOCAL["targets"][0], "id": "xa-x1-2026-tthc", "period": 2026})
    result = runner.invoke(args=["targets", "load", str(write(path, changed))])
    assert result.exit_code == 0, result.output
    assert "~ xa-x1-2025-tthc (xa-x1.yaml): updated" in result.output
    assert "+ xa-x1-2026-tthc (xa-x1.yaml): new" in result.output
    assert "- xa-x1-2025-dat-dai (xa-x1.yaml): removed" in result.output
    assert "1 new, 1 updated, 1 removed, 0 unchanged" in result.output
    rows = stored(app)
    assert sorted(rows) == ["xa-x1-2025-tthc", "xa-x1-2026-tthc"]
    assert '"threshold":60' in rows["xa-x1-2025-tthc"][1]


def test_an_invalid_file_stores_nothing_and_says_where(app, runner, tmp_path):
    good = write(tmp_path / "good.yaml", LOCAL)
    bad = copy.deepcopy(LOCAL)
    bad["targets"][1]["threshold"] = 120
    result = runner.invoke(args=["targets", "load", str(good), str(write(tmp_path / "bad.yaml", bad))])
    assert result.exit_code == 1
    assert "bad.yaml: target 'xa-x1-2025-dat-dai': threshold must be a percentage between 0 and 100, got 120" in result.output
    assert "Nothing was loaded" in result.output and "Traceback" not in result.output
    assert stored(app) == {}
    broken = tmp_path / "broken.yaml"
    broken.write_text("targets:\n  - id: [unclosed\n", encoding="utf-8")
    result = runner.invoke(args=["targets", "load", str(broken)])
    assert result.exit_code == 1 and "broken.yaml" in result.output and "not valid YAML: line" in result.output


def test_an_id_belongs_to_one_file(app, runner, tmp_path):
    assert runner.invoke(args=["targets", "load", str(write(tmp_path / "a.yaml", LOCAL))]).exit_code == 0
    result = runner.invoke(args=["targets", "load", str(write(tmp_path / "b.yaml", LOCAL))])
    assert result.exit_code == 1
    assert "b.yaml: target 'xa-x1-2025-tthc': id already stored from a.yaml" in result.output
    same_batch = runner.invoke(args=["targets", "load", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])
    assert same_batch.exit_code == 1 and "id already used in a.yaml" in same_batch.output
    # moving a target: loading both files, the id gone from its old one
    moved = {"targets": LOCAL["targets"][:1]}
    rest = {"targets": LOCAL["targets"][1:]}
    result = runner.invoke(args=["targets", "load", str(write(tmp_path / "a.yaml", rest)), str(write(tmp_path / "b.yaml", moved))])
    assert result.exit_code == 0, result.output
    assert stored(app)["xa-x1-2025-tthc"][0] == "b.yaml"


def test_list_shows_vietnamese_columns(app, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")
    empty = runner.invoke(args=["targets", "list"])
    assert empty.exit_code == 0 and "targets load" in empty.output
    runner.invoke(args=["targets", "load", str(write(tmp_path / "xa-x1.yaml", LOCAL))])
    result = runner.invoke(args=["targets", "list", "--sources"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["Mã", "chỉ", "tiêu"]
    row = next(line for line in lines if line.startswith("xa-x1-2025-dat-dai"))
    assert "> 99,5%" in row and "TTHC theo lĩnh vực" in row and "dat-dai" in row and "xa-x1.yaml" in row
    assert "≥ 50,0%" in next(line for line in lines if line.startswith("xa-x1-2025-tthc"))
    assert "UBND xã X1: trên 99,5%" in result.output
    assert "2 chỉ tiêu" in lines[-1]


def test_reports_judge_against_the_stored_targets(app, runner, tmp_path):
    seed(app, n=80)
    with app.app_context():
        bundled = standard_report(get_session(), Selection("sipas-local", by=("unit", "field", "period"), period="Y"))
    assert "bundled files" in bundled.method["targets"] and "plan_targets table is empty" in bundled.method["targets"]
    assert "nq76-2025-tthc" in set(bundled.verdicts["target_id"])
    runner.invoke(args=["targets", "load", str(write(tmp_path / "xa-x1.yaml", LOCAL))])
    with app.app_context():
        report = standard_report(get_session(), Selection("sipas-local", by=("unit", "field", "period"), period="Y"))
    assert "2 target(s) from the database" in report.method["targets"]
    assert set(report.verdicts["target_id"]) == {"xa-x1-2025-tthc", "xa-x1-2025-dat-dai"}
    verdict = report.verdicts.set_index(["target_id", "source"]).loc[("xa-x1-2025-tthc", "feedback")]
    assert verdict["unit"] == "X1" and verdict["threshold"] == 50
