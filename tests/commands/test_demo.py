"""Demo data: its own plan targets give verdicts (#11 item 10); synthetic rows are tagged,
never mixed into real data by accident, and can be deleted (#11 item 15)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select

from analysis.targets import load_targets
from survey.db import get_session
from survey.models import Answer, Response
from survey.ops import demo
from tests.reporting.test_reports import Ledger, build_units, insert, random_row

ROOT = Path(__file__).resolve().parents[2]
DEMO_TARGETS = sorted((ROOT / "targets" / "demo").glob("*.yaml"))


def test_make_run_loads_the_bundled_and_the_demo_targets():
    run = re.search(r"^run:.*?(?=^\S)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.S | re.M).group(0)
    assert "$(FLASK) targets load targets/*.yaml targets/demo/*.yaml" in run
    assert run.index("demo load") < run.index("targets load")


def test_demo_targets_are_marked_and_never_among_the_bundled_ones():
    targets = load_targets(DEMO_TARGETS)
    assert targets and all(t.id.startswith("demo-") and "MINH HOẠ" in t.note and "demo" in t.source for t in targets)
    assert {t.scope for t in targets} == {f"{demo.PROVINCE_CODE:02d}"}
    assert not {t.id for t in load_targets()} & {t.id for t in targets}  # `targets load` alone never stores them


def test_the_demo_province_gets_verdicts_against_its_own_target(app, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    assert runner.invoke(args=["demo", "load", "--responses", "600"]).exit_code == 0
    loaded = runner.invoke(args=["targets", "load", *map(str, DEMO_TARGETS)])
    assert loaded.exit_code == 0, loaded.output
    out = tmp_path / "r.json"
    result = runner.invoke(args=["report", "export", "--questionnaire", "sipas-2017", "--by", "unit,period",
                                 "--period", "year", "--out", str(out)])
    assert result.exit_code == 0, result.output
    verdicts = json.loads(out.read_text(encoding="utf-8"))["verdicts"]
    mine = [v for v in verdicts if v["target_id"] == "demo-tinh-33-2025-tthc"]
    assert any(v["unit"] == "33" and v["period"] == "2025" and v["n"] >= 30 for v in mine)
    assert all(v["period"] == "2025" for v in mine)
    assert {v["target_period"] for v in verdicts if v["target_id"] == "demo-tinh-33-2026-tthc"} == {"2026"}


def test_demo_rows_are_tagged_refused_beside_real_ones_and_cleared(app, runner, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    with app.app_context():
        session = get_session()
        build_units(session)
        insert(session, Ledger([random_row(__import__("random").Random(1)) for _ in range(3)]))
        session.commit()
    refused = runner.invoke(args=["demo", "load", "--responses", "200"])
    assert refused.exit_code == 1 and "3 phiếu thật" in refused.output and "--yes" in refused.output
    with app.app_context():
        assert demo.response_counts(get_session()) == (0, 3)
    assert runner.invoke(args=["demo", "load", "--responses", "200", "--yes"]).exit_code == 0
    with app.app_context():
        session = get_session()
        assert demo.response_counts(session) == (200, 3)
        assert session.scalar(select(func.count()).select_from(Response).where(Response.device_hash == "demo")) == 200
    cleared = runner.invoke(args=["demo", "clear", "--yes"])
    assert cleared.exit_code == 0 and "Đã xoá 200 phiếu minh hoạ; còn 3 phiếu thật" in cleared.output
    with app.app_context():
        session = get_session()
        assert demo.response_counts(session) == (0, 3)
        left = session.scalar(select(func.count(func.distinct(Answer.response_id))))
        assert left == 3  # no orphaned answers
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert "No demo responses to delete" in runner.invoke(args=["demo", "clear", "--yes"]).output
