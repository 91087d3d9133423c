"""Questionnaire and demo commands."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml
from sqlalchemy import func, select

from survey.db import get_session
from survey.models import Answer, Counter, Response, Unit
from tests.test_loader import BASE


def write(tmp_path: Path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_check_bundled(runner):
    result = runner.invoke(args=["questionnaire", "check"])
    assert result.exit_code == 0, result.output
    assert "✓ sipas-2017.yaml: sipas-2017 v2, 37 câu hỏi, 22 tiêu chí" in result.output


def test_check_reports_invalid_file_and_fails(runner, tmp_path):
    bad = copy.deepcopy(BASE)
    bad["sections"][0]["items"][0]["type"] = "slider"
    good = write(tmp_path, "good.yaml", BASE)
    result = runner.invoke(args=["questionnaire", "check", good, write(tmp_path, "bad.yaml", bad)])
    assert result.exit_code == 1
    assert "✓ good.yaml" in result.output
    assert "bad.yaml: phần 'staff' / câu 'polite' / type: 'slider' không phải một trong" in result.output
    assert "1 tệp không hợp lệ: sửa theo từng dòng ✗ ở trên" in result.output


def test_check_findings_in_english_when_the_shell_asks(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    bad = copy.deepcopy(BASE)
    bad["sections"][0]["items"][0]["type"] = "slider"
    result = runner.invoke(args=["questionnaire", "check", write(tmp_path, "bad.yaml", bad)])
    assert result.exit_code == 1 and "bad.yaml: section 'staff' / item 'polite' / type: 'slider' is not one of" in result.output
    bad["sections"][0]["items"][0]["type"] = "number"
    result = runner.invoke(args=["questionnaire", "publish", write(tmp_path, "bad.yaml", bad)])
    assert result.exit_code == 1 and "bad.yaml: item 'polite': a number item needs both 'min' and 'max'" in result.output
    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")
    result = runner.invoke(args=["questionnaire", "publish", write(tmp_path, "bad.yaml", bad)])
    assert result.exit_code == 1 and "bad.yaml: câu 'polite': câu số cần cả 'min' và 'max'" in result.output


def test_publish_and_list(runner, tmp_path):
    path = write(tmp_path, "mini.yaml", BASE)
    first = runner.invoke(args=["questionnaire", "publish", path])
    assert first.exit_code == 0 and "mini v1: đã công bố\n" in first.output
    second = runner.invoke(args=["questionnaire", "publish", path])
    assert "mini v1: đã công bố trước đây, không đổi" in second.output
    changed = copy.deepcopy(BASE)
    changed["title"]["vi"] = "Phiếu đã sửa"
    refused = runner.invoke(args=["questionnaire", "publish", write(tmp_path, "mini.yaml", changed)])
    assert refused.exit_code == 1 and "mini: phiên bản 1 đã được công bố với nội dung khác; ghi 'version: 2'" in refused.output
    listing = runner.invoke(args=["questionnaire", "list"])
    assert "mini" in listing.output and "sipas-2017" in listing.output
    assert re.search(r"^mini\s+v1\s+\d\d/\d\d/\d{4}\s+0 phiếu\s+", listing.output, re.MULTILINE)


def test_questionnaire_commands_in_english(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert "✓ sipas-2017.yaml: sipas-2017 v2, 37 items, 22 criteria" in runner.invoke(args=["questionnaire", "check"]).output
    path = write(tmp_path, "mini.yaml", BASE)
    assert "mini v1: published" in runner.invoke(args=["questionnaire", "publish", path]).output
    changed = copy.deepcopy(BASE)
    changed["title"]["vi"] = "Phiếu đã sửa"
    refused = runner.invoke(args=["questionnaire", "publish", write(tmp_path, "mini.yaml", changed)])
    assert refused.exit_code == 1 and "mini: version 1 is already published with different content; set 'version: 2'" in refused.output
    assert re.search(r"^mini\s+v1\s+\S+\s+0 responses", runner.invoke(args=["questionnaire", "list"]).output, re.MULTILINE)


def test_demo_load_builds_a_province(app, runner):
    result = runner.invoke(args=["demo", "load", "--responses", "500"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count()).select_from(Response)) == 500
        assert session.scalar(select(func.count()).select_from(Answer)) > 500 * 10
        province = session.scalars(select(Unit).where(Unit.parent_id.is_(None))).one()
        assert province.code == "33" and province.kind == "province"
        assert session.scalar(select(func.count()).select_from(Unit).where(Unit.path.startswith(province.path))) >= 13
        assert session.scalar(select(func.count()).select_from(Counter)) >= 20
        by_field = dict(session.execute(
            select(Response.field_id, func.count()).group_by(Response.field_id)).all())
        assert len(by_field) >= 5, "responses spread over fields"
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "Đã có dữ liệu" in again.output


def test_demo_distributions_depend_on_field(app, runner):
    """Land must come out less satisfied than civil status, as the generator intends."""
    runner.invoke(args=["demo", "load", "--responses", "3000"])
    with app.app_context():
        session = get_session()
        rows = session.execute(
            select(Response.field_id, Answer.code, func.count())
            .join(Answer, Answer.response_id == Response.id)
            .where(Answer.item_key == "overall").group_by(Response.field_id, Answer.code)
        ).all()
        from survey.models import Field
        codes = {f.id: f.code for f in session.scalars(select(Field))}
    share: dict[str, list[int]] = {}
    for field_id, code, n in rows:
        top, total = share.setdefault(codes[field_id], [0, 0])
        share[codes[field_id]] = [top + (n if code >= 4 else 0), total + n]
    land = share["dat-dai"][0] / share["dat-dai"][1]
    civil = share["tu-phap-ho-tich"][0] / share["tu-phap-ho-tich"][1]
    assert land < civil - 0.05, (land, civil)


def test_make_run_banner_names_the_citizen_pages_in_the_cli_language(app, runner, monkeypatch):
    runner.invoke(args=["questionnaire", "publish"])
    banner = runner.invoke(args=["urls", "--base", "http://127.0.0.1:8080/"])
    assert banner.exit_code == 0 and "Trang khảo sát cho người dân: http://127.0.0.1:8080/\n" in banner.output
    assert "  http://127.0.0.1:8080/q/sipas-2017 " in banner.output and "Citizen" not in banner.output
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    assert "Citizen pages: http://127.0.0.1:8080/\n" in runner.invoke(args=["urls", "--base", "http://127.0.0.1:8080"]).output
