"""Registry maintenance: units and counters from CSV/XLSX, official codes, credentials."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from vietnam_provinces import Ward

from survey.db import get_session
from survey.models import Counter, Unit, UnitCredential
from survey.qr import credentials
from survey.registry import units as registry


@pytest.fixture(autouse=True)
def english_cli(monkeypatch):
    """These tests read the CLI's English (it speaks Vietnamese unless the locale says English);
    tests/commands/test_cli_language.py reads the Vietnamese."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


def write(path: Path, *lines: str) -> Path:
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")  # Excel's "CSV UTF-8" has a BOM
    return path


def errors(output: str) -> dict[int, str]:
    return {int(line.split(":")[0].split()[1]): line for line in output.splitlines() if line.startswith("line ")}


def units(app) -> dict[str, Unit]:
    with app.app_context():
        return {u.code: u for u in get_session().scalars(select(Unit))}


def test_units_import_any_depth_parents_later_bad_rows_reported(app, runner, tmp_path):
    src = write(
        tmp_path / "units.csv",
        "code,name,kind,parent_code",
        "11953,Phường Phố Hiến,ward,33",          # 2: parent comes later
        "33,Tỉnh Hưng Yên,province,",             # 3
        "33-TTHCC,Trung tâm PVHCC,centre,33",      # 4
        "33-TTHCC-Q,Tổ tiếp nhận,other,33-TTHCC",  # 5: depth 3
        "X1,Xã Lạ,xa,33",                          # 6: bad kind
        "X2,,commune,33",                          # 7: no name
        "X3,Xã Mồ Côi,commune,NOPE",               # 8: parent unknown
        "11953,Trùng,ward,33",                     # 9: duplicate in file
        "X4,Vòng,commune,X5",                      # 10: cycle
        "X5,Vòng,commune,X4",                      # 11: cycle
        '"X6","Xã ""Có"" dấu phẩy, ngoặc",commune,33',  # 12: quoted cell
    )
    result = runner.invoke(args=["units", "import", str(src)])
    assert result.exit_code == 1
    bad = errors(result.output)
    assert sorted(bad) == [6, 7, 8, 9, 10, 11]
    assert "unknown kind 'xa'" in bad[6] and "name is empty" in bad[7] and "'NOPE'" in bad[8]
    assert "appears twice" in bad[9] and "first on line 2" in bad[9]
    assert "5 units processed (5 new, 0 updated, 0 unchanged); 6 rows failed" in result.output
    got = units(app)
    assert got["33-TTHCC-Q"].path == f"/{got['33'].id}/{got['33-TTHCC'].id}/{got['33-TTHCC-Q'].id}/"
    assert got["11953"].parent_id == got["33"].id
    assert got["X6"].name == 'Xã "Có" dấu phẩy, ngoặc'
    with app.app_context():
        session = get_session()
        assert set(registry.subtree_ids(session, session.get(Unit, got["33-TTHCC"].id))) == {
            got["33-TTHCC"].id, got["33-TTHCC-Q"].id}


def test_units_reimport_updates_names_and_refuses_moves(app, runner, tmp_path):
    write(tmp_path / "a.csv", "code,name,kind,parent_code", "33,Hưng Yên,province,", "34,Thái Bình,province,",
          "11953,Phố Hiến,ward,33")
    assert runner.invoke(args=["units", "import", str(tmp_path / "a.csv")]).exit_code == 0
    write(tmp_path / "b.csv", "code,name,kind,parent_code", "33,Tỉnh Hưng Yên,province,", "34,Thái Bình,province,",
          "11953,Phố Hiến,ward,34")
    result = runner.invoke(args=["units", "import", str(tmp_path / "b.csv")])
    assert result.exit_code == 1
    assert "line 4: unit '11953' exists under another parent" in result.output
    assert "2 units processed (0 new, 1 updated, 1 unchanged)" in result.output
    assert units(app)["33"].name == "Tỉnh Hưng Yên"


def test_units_import_semicolon_csv_and_xlsx(app, runner, tmp_path):
    write(tmp_path / "s.csv", "code;name;kind;parent_code", "33;Hưng Yên;province;")
    assert runner.invoke(args=["units", "import", str(tmp_path / "s.csv")]).exit_code == 0
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Code", "Name", "Kind", "Parent_Code"])
    book.active.append([11953, "Phường Phố Hiến", "ward", 33])
    book.active.append([None, None, None, None])
    book.active.append(["H1", "Bệnh viện", "hospital", 33])
    book.save(tmp_path / "u.xlsx")
    result = runner.invoke(args=["units", "import", str(tmp_path / "u.xlsx")])
    assert result.exit_code == 0, result.output
    got = units(app)
    assert got["11953"].parent_id == got["33"].id and got["H1"].kind == "hospital"


def test_units_import_refuses_unreadable_files(app, runner, tmp_path):
    (tmp_path / "latin1.csv").write_bytes("code,name,kind\n1,Hà Nội,province\n".encode("cp1258", errors="replace")
                                          .replace(b"H", b"\xff"))
    result = runner.invoke(args=["units", "import", str(tmp_path / "latin1.csv")])
    assert result.exit_code != 0 and "not UTF-8" in result.output
    write(tmp_path / "cols.csv", "ma,ten", "1,x")
    result = runner.invoke(args=["units", "import", str(tmp_path / "cols.csv")])
    assert result.exit_code != 0 and "missing column(s) code, name, kind" in result.output


def test_import_official_province_and_wards(app, runner):
    result = runner.invoke(args=["units", "import-official", "--province", "33"])
    assert result.exit_code == 0, result.output
    expected = len(list(Ward.iter_by_province(33)))
    got = units(app)
    assert got["33"].kind == "province" and len(got) == expected + 1
    assert got["11953"].name == "Phường Phố Hiến" and got["11953"].kind == "ward"
    again = runner.invoke(args=["units", "import-official", "--province", "33"])
    assert f"{expected + 1} units processed (0 new, 0 updated, {expected + 1} unchanged)" in again.output
    assert runner.invoke(args=["units", "import-official", "--province", "99"]).exit_code == 1


def _registry(runner, tmp_path):
    write(tmp_path / "u.csv", "code,name,kind,parent_code", "33,Hưng Yên,province,", "11953,Phố Hiến,ward,33")
    assert runner.invoke(args=["units", "import", str(tmp_path / "u.csv")]).exit_code == 0


def test_counters_import_with_bad_rows_and_stable_public_codes(app, runner, tmp_path):
    _registry(runner, tmp_path)
    src = write(
        tmp_path / "c.csv",
        "unit_code,code,name,questionnaire,fields",
        "11953,MC1,Quầy 1,counter-quick,dat-dai;xay-dung",  # 2
        "11953,MC2,Quầy 2,sipas-2017,tu-phap-ho-tich",       # 3
        "99999,MC1,Quầy,counter-quick,dat-dai",              # 4 unknown unit
        "11953,MC3,Quầy 3,khong-co,dat-dai",                 # 5 unknown questionnaire
        "11953,MC4,Quầy 4,counter-quick,dat-dai;khong-co",   # 6 unknown field
        "11953,,Quầy,counter-quick,dat-dai",                 # 7 no code
        "11953,MC1,Quầy 1 lặp,counter-quick,dat-dai",        # 8 duplicate
        "33,TT,Tổng đài,counter-quick,",                     # 9 no field: fine
    )
    result = runner.invoke(args=["counters", "import", str(src)])
    assert result.exit_code == 1
    assert sorted(errors(result.output)) == [4, 5, 6, 7, 8]
    assert "unknown field(s) 'khong-co': use field codes or Vietnamese names" in errors(result.output)[6]
    assert "dat-dai (Đất đai)" in errors(result.output)[6]
    assert "3 counters processed (3 new" in result.output
    with app.app_context():
        before = {c.code: (c.public_code, [f.code for f in c.fields]) for c in get_session().scalars(select(Counter))}
    assert before["MC1"][1] == ["dat-dai", "xay-dung"] and before["TT"][1] == []
    write(tmp_path / "c2.csv", "unit_code,code,name,questionnaire,fields",
          "11953,MC1,Quầy 1,counter-quick,xay-dung;dat-dai", "11953,MC2,Quầy 2 mới,sipas-2017,chung-thuc")
    result = runner.invoke(args=["counters", "import", str(tmp_path / "c2.csv")])
    assert result.exit_code == 0, result.output
    assert "2 counters processed (0 new, 1 updated, 1 unchanged)" in result.output
    with app.app_context():
        after = {c.code: (c.public_code, [f.code for f in c.fields]) for c in get_session().scalars(select(Counter))}
    assert after["MC1"] == before["MC1"]  # printed posters stay valid
    assert after["MC2"] == (before["MC2"][0], ["chung-thuc"])


def test_counters_list_prints_short_urls(app, runner, tmp_path):
    _registry(runner, tmp_path)
    write(tmp_path / "c.csv", "unit_code,code,name,questionnaire,fields", "11953,MC1,Quầy 1,counter-quick,dat-dai")
    runner.invoke(args=["counters", "import", str(tmp_path / "c.csv")])
    with app.app_context():
        code = get_session().scalar(select(Counter.public_code))
    result = runner.invoke(args=["counters", "list", "--unit", "33", "--base", "https://x.gov.vn"])
    assert result.exit_code == 0 and f"https://x.gov.vn/c/{code}" in result.output


def test_credentials_are_shown_once_and_stored_hashed(app, runner, tmp_path):
    _registry(runner, tmp_path)
    result = runner.invoke(args=["units", "credentials", "11953"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines() if ":" in line)
    api_key, secret, key_id = lines["API key"].strip(), lines["HMAC secret"].strip(), lines["key id"].strip()
    assert api_key.startswith(key_id + ".") and len(api_key) > 40 and len(secret) >= 43
    with app.app_context():
        cred = get_session().scalar(select(UnitCredential))
        assert cred.key_id == key_id and api_key not in cred.api_key_hash
        # stored wrapped: neither the secret nor any part of it is in the row, yet it unwraps to the one shown
        assert secret not in cred.secret_wrapped and cred.secret_wrapped.startswith("v1.")
        assert cred.hmac_secret is None and credentials.hmac_secret(cred) == secret
    rotated = runner.invoke(args=["units", "credentials", "11953", "--revoke-others"])
    assert rotated.exit_code == 0
    with app.app_context():
        session = get_session()
        live = session.scalar(select(func.count()).select_from(UnitCredential).where(UnitCredential.revoked_at.is_(None)))
        assert live == 1
    assert runner.invoke(args=["units", "credentials", "NOPE"]).exit_code != 0


def test_hostile_cells_in_a_registry_file_are_one_clear_line(app, runner, tmp_path):
    """A 200 KB cell (csv's field limit), a U+2028 that would split the row, a NUL deep in the file."""
    huge = tmp_path / "huge.csv"
    huge.write_text('code,name,kind\n33,"' + "x" * 200_000 + '",province\n', encoding="utf-8")
    result = runner.invoke(args=["units", "import", str(huge)])
    assert result.exit_code == 1 and "huge.csv: line 2: a cell longer than 131.072 characters" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    split = tmp_path / "split.csv"
    split.write_text("unit_code,code,name,questionnaire\n33,MC1,Quầy\u20281,counter-quick\n", encoding="utf-8")
    result = runner.invoke(args=["counters", "import", str(split)])
    assert result.exit_code == 1 and "split.csv: line 2, column C (name): contains U+2028 LINE SEPARATOR" in result.output
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Unit)) == 0
