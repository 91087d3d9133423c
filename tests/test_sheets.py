"""The shared spreadsheet reader and writer (survey/sheets.py): bounded reading of hostile files,
refused control characters with the line and column named, and formula-safe output."""
from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from survey import sheets
from survey.i18n import outside_request
from survey.sheets import SheetError, read_cells, read_rows, safe_cell, safe_frame, write_csv


def _csv(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("value,expected", [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("+84 912 345 678", "'+84 912 345 678"),
    ("-12", "-12"), ("+3,5", "+3,5"), ("-0.25", "-0.25"), ("-1e3", "-1e3"),  # plain numbers stay numbers
    ("Xã = Phường", "Xã = Phường"), ("", ""),
    (-3, -3), (2.5, 2.5), (None, None),
])
def test_safe_cell_neutralises_formulas_and_leaves_numbers(value, expected):
    assert safe_cell(value) == expected


def test_safe_frame_keeps_numeric_columns_numeric():
    import pandas as pd

    frame = pd.DataFrame({"unit_name": ["=1+1", "Xã A"], "pct": [-2.5, 90.0], "n": [3, 4], "@col": ["a", "-7"]})
    out = safe_frame(frame)
    assert out["unit_name"].tolist() == ["'=1+1", "Xã A"] and out["'@col"].tolist() == ["a", "-7"]
    assert out["pct"].tolist() == [-2.5, 90.0] and out["pct"].dtype.kind == "f" and out["n"].dtype.kind == "i"
    assert list(out.columns) == ["unit_name", "pct", "n", "'@col"]
    assert frame["unit_name"].tolist() == ["=1+1", "Xã A"]  # the caller's frame is not changed


def test_private_csv_is_0600_from_the_start_and_replaces_a_wider_file(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "links.csv"
        target.write_text("old")
        target.chmod(0o644)
        write_csv(target, ["code", "n"], [["=evil()", -5], ["ok", 3]], private=True)
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        public = tmp_path / "report.csv"
        write_csv(public, ["a"], [["x"]])
        assert stat.S_IMODE(public.stat().st_mode) == 0o644
    finally:
        os.umask(old)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows == [["code", "n"], ["'=evil()", "-5"], ["ok", "3"]]
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".*.part"))


# ---------------------------------------------------------------- reading hostile files


def test_a_cell_over_the_cap_names_line_and_column(tmp_path):
    path = _csv(tmp_path / "u.csv", "code,name\nA,ok\nB," + "x" * 1500 + "\n")
    with pytest.raises(SheetError, match=r"u.csv: dòng 3, cột B \(name\): 1.500 ký tự; mỗi ô tối đa 1.000 ký tự"):
        list(read_rows(path, ("code",)))
    assert len(list(read_cells(path, cell_chars=5000))) == 3  # a free-text reader may allow more


def test_a_cell_over_csv_field_limit_is_a_clear_error_not_a_traceback(tmp_path):
    path = _csv(tmp_path / "big.csv", 'code,name\nA,"' + "x" * 200_000 + '"\n')
    with pytest.raises(SheetError, match=r"big.csv: dòng 2: có ô dài hơn 131.072 ký tự"):
        list(read_rows(path, ("code",)))


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e"])
def test_line_separators_do_not_split_rows_and_are_refused_with_the_line(tmp_path, char):
    path = _csv(tmp_path / "u.csv", f"code,name,kind\nA,Xã{char}B,commune\nC,Xã C,commune\n")
    with pytest.raises(SheetError, match=rf"u.csv: dòng 2, cột B \(name\): có ký tự .*U\+{ord(char):04X}"):
        list(read_rows(path, ("code",)))


def test_nul_is_found_anywhere_in_the_file(tmp_path):
    lines = ["code,name"] + [f"C{i},Xã {i}" for i in range(1, 600)]
    lines[500] = "C500,Xã\x00500"
    path = _csv(tmp_path / "u.csv", "\n".join(lines) + "\n")
    assert path.stat().st_size > 4096
    with pytest.raises(SheetError, match=r"u.csv: dòng 501: có byte NUL"):
        list(read_rows(path, ("code",)))


def test_control_and_invisible_characters_in_codes_and_names(tmp_path):
    path = _csv(tmp_path / "u.csv", "code,name\nA\u200b,Xã A\n")
    with pytest.raises(SheetError, match=r"dòng 2, cột A \(code\): có ký tự ẩn U\+200B ZERO WIDTH SPACE; hãy xoá"):
        list(read_rows(path, ("code",)))
    tab = _csv(tmp_path / "t.csv", "code,name\nA,Xã\tA\n")
    with pytest.raises(SheetError, match=r"dòng 2, cột B \(name\): có ký tự điều khiển U\+0009; hãy xoá ký tự này \(mã hoặc tên chỉ là một dòng chữ\)"):
        list(read_rows(tab, ("code",)))
    # free text keeps its tabs and line breaks; a non-breaking space copied from a web page is fine everywhere
    text = _csv(tmp_path / "r.csv", 'comment\n"Dòng 1\r\nDòng\t2"\nXã\u00a0A\n')
    assert list(read_cells(text, cell_chars=5000, multiline=True)) == [(1, ["comment"]), (2, ["Dòng 1\r\nDòng\t2"]),
                                                                          (3, ["Xã\u00a0A"])]


def test_too_many_columns_rows_or_bytes_are_refused_up_front(tmp_path, monkeypatch):
    wide = _csv(tmp_path / "wide.csv", ",".join(f"c{i}" for i in range(300)) + "\n")
    with pytest.raises(SheetError, match=r"dòng 1, cột IQ: hơn 250 cột"):
        list(read_cells(wide))
    trailing = _csv(tmp_path / "trailing.csv", "a,b" + "," * 400 + "\n1,2\n")  # empty formatted columns: trimmed
    assert list(read_cells(trailing)) == [(1, ["a", "b"] + [""] * 248), (2, ["1", "2"])]
    monkeypatch.setattr(sheets, "MAX_ROWS", 3)
    rows = _csv(tmp_path / "rows.csv", "a\n1\n2\n3\n\n\n")
    assert len(list(read_cells(rows))) == 6  # blank lines below the data do not count
    with pytest.raises(SheetError, match="hơn 3 dòng; hãy tách tệp"):
        list(read_cells(_csv(tmp_path / "more.csv", "a\n1\n2\n3\n4\n")))
    monkeypatch.setattr(sheets, "MAX_FILE_BYTES", 1024)
    big = _csv(tmp_path / "big.csv", "a\n" + "1\n" * 2000)
    with pytest.raises(SheetError, match=r"big.csv: 0,0 MB; mỗi lần chỉ nhập được tối đa 0 MB"):
        next(read_cells(big))


def _xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def _rewrite_part(path: Path, name: str, change) -> None:
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i) for i in src.infolist()}
    parts[name] = change(parts.get(name, b""))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for part, data in parts.items():
            out.writestr(part, data)


@pytest.mark.timeout(60)
def test_an_absurd_declared_range_is_not_padded_out(tmp_path):
    path = _xlsx(tmp_path / "dim.xlsx", [["code", "name"], ["A", "Xã A"]])
    _rewrite_part(path, "xl/worksheets/sheet1.xml",
                  lambda xml: xml.replace(b'<dimension ref="A1:B2"/>', b'<dimension ref="A1:XFD1048576"/>'))
    assert list(read_rows(path, ("code",))) == [(2, {"code": "A", "name": "Xã A"})]


def test_a_shared_strings_bomb_is_refused_before_parsing(tmp_path):
    path = _xlsx(tmp_path / "bomb.xlsx", [["code", "name"], ["A", "Xã A"]])
    entries = b"<si><t>x</t></si>" * 1_100_000  # 18.7 MB of XML, a few KB zipped
    _rewrite_part(path, "xl/sharedStrings.xml",
                  lambda _: b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + entries + b"</sst>")
    assert path.stat().st_size < 200_000
    with pytest.raises(SheetError, match=r"bomb.xlsx: phần xl/sharedStrings.xml giải nén ra 18 MB; tối đa 16 MB"):
        list(read_rows(path, ("code",)))


def test_a_workbook_that_unpacks_past_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sheets, "MAX_XLSX_UNPACKED", 4096)
    path = _xlsx(tmp_path / "w.xlsx", [["code", "name"], *[[f"C{i}", "x" * 50] for i in range(200)]])
    with pytest.raises(SheetError, match=r"w.xlsx: giải nén ra 0 MB; tối đa 0 MB"):
        list(read_rows(path, ("code",)))


def test_a_cell_in_a_workbook_is_checked_like_a_csv_cell(tmp_path):
    path = _xlsx(tmp_path / "c.xlsx", [["code", "name"], ["A", "Xã\u2028A"]])
    with pytest.raises(SheetError, match=r"c.xlsx: dòng 2, cột B \(name\): có ký tự U\+2028 LINE SEPARATOR"):
        list(read_rows(path, ("code",)))


def test_dates_take_ascii_digits_only():
    assert sheets.parse_date("2026-11-20") == sheets.parse_date("20/11/2026") == sheets.parse_date("2026-11-20 08:30:00")
    for text in ("٢٠/١١/٢٠٢٦", "２０２６-１１-２０", "2026-11-2０"):
        with pytest.raises(ValueError, match="không phải ngày"):
            sheets.parse_date(text)


# ---------------------------------------------------------------- the language of a refusal


@pytest.fixture
def english():
    with outside_request("en"):  # what a CLI command does under LC_ALL=en (survey.commands.messages)
        yield


REFUSALS = {  # file → (Vietnamese, English): the same facts in both
    "empty.csv": (b"", "empty.csv: tệp trống", "empty.csv: the file is empty"),
    "old.xls": (b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "old.xls: tệp Excel .xls kiểu cũ; trong Excel chọn “Lưu thành” (Save as)",
                "old.xls: an old Excel .xls file; in Excel use 'Save as' → .xlsx or 'CSV UTF-8'"),
    "latin.csv": ("code,name\nA,Hà Nam\n".encode("cp1252"), "latin.csv: dòng 2: không phải văn bản UTF-8; trong Excel hãy lưu",
                  "latin.csv: line 2: not UTF-8 text; in Excel save as 'CSV UTF-8' or as .xlsx"),
    "broken.xlsx": (b"PK\x03\x04 not a zip", "broken.xlsx: không đọc được dạng bảng tính .xlsx (",
                    "broken.xlsx: cannot be read as an .xlsx workbook ("),
    "nocode.csv": (b"name\nA\n", "nocode.csv: thiếu cột code, kind (dòng 1 là dòng tiêu đề)",
                   "nocode.csv: missing column(s) code, kind (line 1 is the header)"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_file_is_told_in_vietnamese_first(tmp_path, name):
    body, vietnamese, _english = REFUSALS[name]
    (tmp_path / name).write_bytes(body)
    with pytest.raises(SheetError) as refused:
        list(read_rows(tmp_path / name, ("code", "kind")))
    assert str(refused.value).startswith(vietnamese), str(refused.value)


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_file_is_told_in_english_when_the_shell_asks(tmp_path, english, name):
    body, _vietnamese, english_text = REFUSALS[name]
    (tmp_path / name).write_bytes(body)
    with pytest.raises(SheetError) as refused:
        list(read_rows(tmp_path / name, ("code", "kind")))
    assert str(refused.value).startswith(english_text), str(refused.value)


def test_cell_problems_and_dates_in_english(tmp_path, english):
    path = _csv(tmp_path / "u.csv", "code,name\nA,ok\nB," + "x" * 1500 + "\n")
    with pytest.raises(SheetError, match=r"^u.csv: line 3, column B \(name\): 1.500 characters; at most 1.000 in one cell$"):
        list(read_rows(path, ("code",)))
    assert sheets.cell_problem("A\u200b") == "contains the invisible character U+200B ZERO WIDTH SPACE; delete it"
    with pytest.raises(ValueError, match=r"^'31/02/2025' is not a date \(use YYYY-MM-DD or DD/MM/YYYY\)$"):
        sheets.parse_date("31/02/2025")
