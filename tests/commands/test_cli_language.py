"""The registry commands speak Vietnamese unless the locale asks for English (README § Counters
and QR codes): row reasons, summaries, refusals. The English wording is read by tests/registry
and tests/qr; here the Vietnamese, and that both carry the same facts."""
from __future__ import annotations

from pathlib import Path

import pytest


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def vi(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")


def test_units_import_names_each_bad_row_and_the_fix_in_vietnamese(app, runner, tmp_path, vi, monkeypatch):
    src = write(tmp_path / "u.csv", "code,name,kind,parent_code", "33,Tỉnh Hưng Yên,province,",
                "11953,Phường Phố Hiến,ward,33", ",Không mã,ward,33", "12001,Xã A,xom,33", "12002,Xã B,commune,99")
    result = runner.invoke(args=["units", "import", str(src)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "dòng 4: cột code đang trống" in lines
    assert "dòng 5: kind 'xom' không hợp lệ (một trong: province, district, commune, ward, department," in result.output
    assert ("dòng 6: parent_code '99' không phải đơn vị đã có (cũng không phải một dòng hợp lệ của tệp này)" in lines)
    assert lines[-1] == "Đã xử lý 2 đơn vị (2 mới, 0 cập nhật, 0 không đổi); 3 dòng lỗi: sửa các dòng trên rồi nhập lại tệp."
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    again = runner.invoke(args=["units", "import", str(src)])
    assert again.exit_code == 1 and "line 5: unknown kind 'xom' (one of province, district, commune, ward," in again.output
    assert again.output.splitlines()[-1] == ("2 units processed (0 new, 0 updated, 2 unchanged); 3 rows failed: "
                                             "fix the lines above and import the file again.")


def test_counters_qr_and_credentials_refusals_in_vietnamese(app, runner, tmp_path, vi):
    write(tmp_path / "u.csv", "code,name,kind,parent_code", "33,Tỉnh Hưng Yên,province,", "11953,Phường Phố Hiến,ward,33")
    assert runner.invoke(args=["units", "import", str(tmp_path / "u.csv")]).exit_code == 0
    runner.invoke(args=["questionnaire", "publish"])
    counters = write(tmp_path / "c.csv", "unit_code,code,name,questionnaire,fields",
                     "11953,MC1,Quầy 1,counter-quick,dat-dai", "11953,MC1,Quầy 1 lặp,counter-quick,dat-dai",
                     "99999,MC2,Quầy 2,counter-quick,dat-dai", "11953,MC3,Quầy 3,khong-co,dat-dai")
    result = runner.invoke(args=["counters", "import", str(counters)])
    assert result.exit_code == 1
    assert "dòng 3: quầy 'MC1' của đơn vị '11953' xuất hiện hai lần trong tệp (lần đầu ở dòng 2)" in result.output
    assert "dòng 4: unit_code '99999' không phải đơn vị đã có" in result.output
    assert "dòng 5: phiếu 'khong-co' chưa được công bố (flask --app wsgi questionnaire list)" in result.output
    assert "Đã xử lý 1 quầy (1 mới, 0 cập nhật, 0 không đổi); 3 dòng lỗi" in result.output
    no_base = runner.invoke(args=["qr", "posters", "--unit", "33", "--out", str(tmp_path / "p.pdf")])
    assert no_base.exit_code == 1 and "đặt SURVEY_PUBLIC_BASE_URL (hoặc dùng --base)" in no_base.output
    missing = runner.invoke(args=["qr", "code", "--unit", "11953", "--counter", "NOPE", "--out", str(tmp_path / "x.svg"),
                                  "--base", "https://x.gov.vn"])
    assert missing.exit_code == 1 and "đơn vị '11953' không có quầy 'NOPE' (xem: counters list --unit 11953)" in missing.output
    empty = runner.invoke(args=["qr", "posters", "--unit", "99", "--out", str(tmp_path / "p.pdf"), "--base", "https://x.gov.vn"])
    assert empty.exit_code == 1 and "không có đơn vị mã '99'" in empty.output
    issued = runner.invoke(args=["units", "credentials", "11953"])
    assert issued.exit_code == 0 and "mã khoá:" in issued.output and "khoá API:" in issued.output
    assert "bí mật HMAC:" in issued.output and "Lưu cả hai ngay" in issued.output
    rewrap = runner.invoke(args=["units", "rewrap-secrets"])
    assert rewrap.exit_code == 0 and "0 bí mật đã bọc bằng khoá liên kết hiện tại, 1 vốn đã như vậy, 0 không đọc được." in rewrap.output


def test_qr_dossiers_row_reasons_and_file_refusals_in_the_shells_language(app, runner, tmp_path, vi, monkeypatch):
    """`qr` is a plain group (its posters stay Vietnamese), but the reasons `qr dossiers` gives are the user's."""
    write(tmp_path / "u.csv", "code,name,kind,parent_code", "11953,Phường Phố Hiến,ward,")
    assert runner.invoke(args=["units", "import", str(tmp_path / "u.csv")]).exit_code == 0
    rows = write(tmp_path / "d.csv", "dossier_code,unit_code,completed_on", "HS-1,99999,2026-11-20", "HS-2,,2026-11-20",
                 "HS-3,11953,2026-11-20")
    base = ["--base", "https://hailong.example.gov.vn"]
    result = runner.invoke(args=["qr", "dossiers", str(rows), "--out", str(tmp_path / "l.csv"), *base])
    assert result.exit_code == 1
    assert "dòng 2: không có đơn vị mã '99999' (unit_code)" in result.output
    assert "dòng 3: cột unit_code đang trống" in result.output
    assert "dòng 4: đơn vị '11953' chưa có khoá API: chạy `units credentials 11953`" in result.output
    columns = write(tmp_path / "c.csv", "dossier_code,completed_on", "HS-1,2026-11-20")
    refused = runner.invoke(args=["qr", "dossiers", str(columns), "--out", str(tmp_path / "l.csv"), *base])
    assert refused.exit_code == 1 and "c.csv: thiếu cột unit_code (dòng 1 là dòng tiêu đề)" in refused.output
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    again = runner.invoke(args=["qr", "dossiers", str(rows), "--out", str(tmp_path / "l.csv"), *base])
    assert "line 2: unknown unit_code '99999'" in again.output and "line 3: unit_code is empty" in again.output
    assert "line 4: unit '11953' has no credentials yet: run `units credentials 11953`" in again.output
    refused = runner.invoke(args=["qr", "dossiers", str(columns), "--out", str(tmp_path / "l.csv"), *base])
    assert refused.exit_code == 1 and "c.csv: missing column(s) unit_code (line 1 is the header)" in refused.output


def test_responses_import_refuses_a_file_in_the_shells_language(app, runner, tmp_path, vi, monkeypatch):
    runner.invoke(args=["questionnaire", "publish"])
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 64)
    args = ["responses", "import", str(tmp_path / "old.xls"), "--questionnaire", "counter-quick"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and "old.xls: tệp Excel .xls kiểu cũ" in result.output and "Không nhập gì." in result.output
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    again = runner.invoke(args=args)
    assert again.exit_code == 1 and "old.xls: an old Excel .xls file" in again.output and "Nothing was imported." in again.output
