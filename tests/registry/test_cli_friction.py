"""Registry commands a new administrator met (#11): credentials listed and revoked one by one
(item 16); counters list with a header (item 17); messages in Vietnamese unless the locale asks
for English (item 17)."""
from __future__ import annotations

import re

from sqlalchemy import select

from survey.db import get_session
from survey.models import UnitCredential
from tests.registry.test_registry import _registry, write


def _issue(runner) -> str:
    result = runner.invoke(args=["units", "credentials", "11953"])
    assert result.exit_code == 0, result.output
    return re.search(r"(?:mã khoá|key id):\s+(\S+)", result.output).group(1)


def test_credentials_list_revoke_and_count_the_active_keys(app, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    _registry(runner, tmp_path)
    first = _issue(runner)
    second = runner.invoke(args=["units", "credentials", "11953"])
    assert "Đơn vị 11953 hiện có 2 khoá còn hiệu lực" in second.output and "--revoke KEY_ID" in second.output
    listing = runner.invoke(args=["units", "credentials", "11953", "--list"])
    assert listing.exit_code == 0 and listing.output.splitlines()[0].split()[:2] == ["Mã", "khoá"]
    assert first in listing.output and "2 khoá, 2 còn hiệu lực" in listing.output
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", listing.output), "created in Vietnam time with offset"
    revoked = runner.invoke(args=["units", "credentials", "11953", "--revoke", first])
    assert revoked.exit_code == 0 and f"Đã thu hồi khoá {first}" in revoked.output and "Còn 1 khoá hiệu lực" in revoked.output
    with app.app_context():
        row = get_session().scalar(select(UnitCredential).filter_by(key_id=first))
        assert row.revoked_at is not None
    again = runner.invoke(args=["units", "credentials", "11953", "--revoke", first])
    assert again.exit_code == 1 and f"khoá '{first}' của đơn vị '11953' đã bị thu hồi trước đây" in again.output
    unknown = runner.invoke(args=["units", "credentials", "11953", "--revoke", "nope"])
    assert unknown.exit_code == 1 and "đơn vị '11953' không có khoá 'nope'" in unknown.output and first in unknown.output
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    listing = runner.invoke(args=["units", "credentials", "11953", "--list"])
    assert "2 key(s), 1 active." in listing.output and listing.output.startswith("Key id")


def test_counters_list_has_a_header(app, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    _registry(runner, tmp_path)
    write(tmp_path / "c.csv", "unit_code,code,name,questionnaire,fields", "11953,MC1,Quầy 1,counter-quick,dat-dai")
    runner.invoke(args=["counters", "import", str(tmp_path / "c.csv")])
    result = runner.invoke(args=["counters", "list", "--base", "https://x.gov.vn"])
    head, row = result.output.splitlines()[:2]
    assert head.split()[:3] == ["Đơn", "vị", "Quầy"] and "Địa chỉ QR" in head
    assert row.startswith("11953") and head.index("Quầy") == row.index("MC1")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert runner.invoke(args=["counters", "list"]).output.startswith("Unit")


def test_counters_import_accepts_a_field_by_vietnamese_name(app, runner, tmp_path):
    """Issue #11 item 12: 'Đất đai' names the field dat-dai; a wrong name lists the valid ones."""
    _registry(runner, tmp_path)
    write(tmp_path / "c.csv", "unit_code,code,name,questionnaire,fields",
          "11953,MC1,Quầy 1,counter-quick,Đất  đai;xay-dung", "11953,MC2,Quầy 2,counter-quick,Dat dai")
    result = runner.invoke(args=["counters", "import", str(tmp_path / "c.csv")])
    assert result.exit_code == 1 and "dòng 3: lĩnh vực không có: 'Dat dai'; dùng mã lĩnh vực hoặc tên tiếng Việt" in result.output
    assert "dat-dai (Đất đai)" in result.output
    with app.app_context():
        from survey.models import Counter
        counter = get_session().scalar(select(Counter).filter_by(code="MC1"))
        assert [f.code for f in counter.fields] == ["dat-dai", "xay-dung"]
