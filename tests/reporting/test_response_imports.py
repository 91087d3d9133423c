"""`flask responses import`: paper forms and earlier systems' exports, every bad row named."""
from __future__ import annotations

import copy
import csv
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from questionnaires.loader import load_dict
from survey import catalog
from survey.db import get_session
from survey.models import (
    Answer,
    Counter,
    Field,
    IdempotencyKey,
    Procedure,
    Response,
    ResponseFlag,
    Unit,
)
from survey.registry import units as registry
from tests.reporting.test_reports import SIPAS_CRITERIA, build_units
from tests.test_loader import BASE

VN = timezone(timedelta(hours=7))
COLUMNS = ["form_id", "submitted_at", "unit", "counter", "field", "procedure", "channel", "source",
           *[c for c in SIPAS_CRITERIA if c not in ("feedback_3", "feedback_4")], "gave_feedback", "feedback_3",
           "feedback_4", "overall", "comment", "gender"]


def good(**changes) -> dict[str, str]:
    """A complete, valid paper form (criteria 4, one 5 so that it is not straight-lined; overall 5)."""
    row = {c: "" for c in COLUMNS}
    row.update({c: "4" for c in SIPAS_CRITERIA if c not in ("feedback_3", "feedback_4")}, staff_1="5")
    row.update(submitted_at="20/03/2025", unit="X1", field="dat-dai", gave_feedback="2", overall="5", gender="2",
               comment="Cán bộ nhiệt tình, hướng dẫn rõ ràng.")
    row.update({k: str(v) for k, v in changes.items()})
    return row


def write_csv(path: Path, rows: list[dict], columns=COLUMNS, bom: bool = True, delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def place(app):
    """Units P > D1 > X1, X2; procedures; counters at X1 for sipas-local (MC2) and counter-quick (MC1)."""
    with app.app_context():
        session = get_session()
        units = build_units(session)
        registry.load_procedures(session)
        fields = {f.code: f for f in session.scalars(select(Field))}
        registry.add_counter(session, units["X1"], "MC2", "Quầy 2", "sipas-local", [fields["tu-phap-ho-tich"]])
        registry.add_counter(session, units["X1"], "MC1", "Quầy 1", "counter-quick", [fields["dat-dai"]])
        session.commit()


@pytest.fixture(autouse=True)
def english_cli(monkeypatch):
    """These tests read the English messages; test_cli_language_follows_the_locale reads the Vietnamese."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


def run(runner, path: Path, *extra: str, key: str = "sipas-local"):
    return runner.invoke(args=["responses", "import", str(path), "--questionnaire", key, *extra])


def stored(app) -> list[tuple[Response, dict[str, object]]]:
    with app.app_context():
        session = get_session()
        out = []
        for r in session.scalars(select(Response).order_by(Response.id)):
            answers = {}
            for a in r.answers:
                answers[a.item_key] = a.code if a.code is not None else a.text
            out.append((r, answers))
        return out


def test_good_rows_are_stored_with_their_tags(app, runner, place, tmp_path):
    rows = [
        good(form_id="HY-0001"),
        good(form_id="HY-0002", submitted_at="2025-03-21", unit="X1", counter="MC2", field="", procedure="ht-khai-sinh",
             channel="counter", source="sample", overall="2", access_1="0", gender=""),
        good(form_id="HY-0003", gave_feedback="1", feedback_3="5", feedback_4="3", comment="Phòng chờ hơi chật, cần thêm ghế"),
    ]
    result = run(runner, write_csv(tmp_path / "phieu.csv", rows))
    assert result.exit_code == 0, result.output
    assert "Imported 3 response(s) from phieu.csv into sipas-local v1." in result.output
    saved = stored(app)
    assert len(saved) == 3
    first, answers = saved[0]
    assert first.channel == "paper" and first.source == "feedback" and first.language == "vi"
    # a dated paper form is stamped at noon, Vietnam time
    assert first.submitted_at == datetime(2025, 3, 20, 12, tzinfo=VN)
    assert answers["access_1"] == 4 and answers["overall"] == 5 and answers["gender"] == 2
    assert answers["comment"] == "Cán bộ nhiệt tình, hướng dẫn rõ ràng."
    second, answers2 = saved[1]
    with app.app_context():
        session = get_session()
        procedure = session.scalar(select(Procedure).filter_by(code="ht-khai-sinh"))
        counter = session.scalar(select(Counter).filter_by(code="MC2"))
        assert (second.procedure_id, second.field_id, second.counter_id) == (procedure.id, procedure.field_id, counter.id)
        assert session.get(Unit, second.unit_id).code == "X1"
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 3
    assert (second.channel, second.source) == ("counter", "sample")
    assert answers2["access_1"] == 0 and "gender" not in answers2
    assert saved[2][1]["feedback_3"] == 5 and saved[2][1]["comment"] == "Phòng chờ hơi chật, cần thêm ghế"


BAD_ROWS = [
    (good(access_1="7"), "access_1", "7 is not a valid code; use one of 0–5"),
    (good(staff_2="x"), "staff_2", "'x' is not a code"),
    (good(overall=""), "overall", "required, but blank"),
    (good(feedback_3="4"), "feedback_3", "only asked when gave_feedback is 1 (here: 2)"),
    (good(gave_feedback="1"), "feedback_3", "required, but blank"),
    (good(gender="4"), "gender", "4 is not a valid code; use one of 1, 2, 3"),
    (good(comment="x" * 1001), "comment", "text is 1001 characters long; at most 1000"),
    (good(unit="X9"), "unit", "unknown unit code 'X9'"),
    (good(field="dat"), "field", "unknown field 'dat': use a field code or its Vietnamese name: "),
    (good(field="Dat dai"), "field", "dat-dai (Đất đai); "),  # diacritics are part of the name
    (good(submitted_at=""), "submitted_at", "blank: the date decides the period and the target"),
    (good(counter="MC2", field="dat-dai", procedure=""), "field",
     "counter 'MC2' of unit 'X1' does not serve field 'dat-dai' (it serves: tu-phap-ho-tich)"),
    (good(procedure="no-such"), "procedure", "unknown procedure code 'no-such'"),
    (good(procedure="ht-khai-sinh"), "procedure", "procedure 'ht-khai-sinh' is not in field 'dat-dai'"),
    (good(unit="", counter="MC2"), "counter", "needs the unit column"),
    (good(counter="MC9"), "counter", "unit 'X1' has no counter 'MC9'"),
    (good(counter="MC1"), "counter", "collects 'counter-quick', not 'sipas-local'"),
    (good(submitted_at="31/02/2025"), "submitted_at", "'31/02/2025' is not a date"),
    (good(submitted_at="01/01/2099"), "submitted_at", "01/01/2099 is in the future"),
    (good(submitted_at="01/01/1925"), "submitted_at", "is before 2000"),
    (good(channel="fax"), "channel", "'fax' is not a channel"),
    (good(source="survey"), "source", "'survey' is not a source"),
    ({c: "" for c in COLUMNS} | {"unit": "X1"}, "", "no answers in this row"),
]


def test_every_bad_row_is_named_by_line_column_and_reason(app, runner, place, tmp_path):
    rows = [good(form_id="OK-1")] + [row for row, _, _ in BAD_ROWS] + [good(form_id="OK-2"), good(form_id="OK-1")]
    result = run(runner, write_csv(tmp_path / "mixed.csv", rows))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for offset, (_, column, reason) in enumerate(BAD_ROWS):
        line = offset + 3  # header is line 1, the good row line 2
        where = f"line {line}, column {column}: " if column else f"line {line}: "
        assert any(text.startswith(where) and reason in text for text in lines), (line, column, reason, result.output)
    duplicate = len(BAD_ROWS) + 4
    assert f"line {duplicate}, column form_id: 'OK-1' is already used on line 2" in result.output
    assert "Imported 2 response(s)" in result.output
    assert f"{len(BAD_ROWS) + 1} bad row(s) not imported" in result.output
    assert "Traceback" not in result.output
    assert len(stored(app)) == 2


def test_numbers_and_text_are_checked_against_the_questionnaire(app, runner, tmp_path):
    with app.app_context():
        session = get_session()
        catalog.publish(session, load_dict(copy.deepcopy(BASE), "mini.yaml"))
        session.commit()
    columns = ["polite", "used_online", "online", "overall", "pct", "note"]
    rows = [
        {"polite": "5", "used_online": "1", "online": "4", "overall": "4", "pct": "200", "note": "ổn"},
        {"polite": "5", "used_online": "2", "online": "", "overall": "4", "pct": "201", "note": ""},
        {"polite": "5", "used_online": "2", "online": "", "overall": "4", "pct": "7.5", "note": ""},
        {"polite": "5", "used_online": "2", "online": "", "overall": "4", "pct": "", "note": "y" * 51},
    ]
    result = run(runner, write_csv(tmp_path / "mini.csv", rows, columns), "--date", "15/03/2025", key="mini")
    assert result.exit_code == 1
    assert "line 3, column pct: 201 is outside 0–200" in result.output
    assert "line 4, column pct: '7.5' is not a whole number" in result.output
    assert "line 5, column note: text is 51 characters long; at most 50" in result.output
    assert "Imported 1 response(s)" in result.output
    (response, answers), = stored(app)
    assert answers == {"polite": 5, "used_online": 1, "online": 4, "overall": 4, "pct": 200, "note": "ổn"}
    assert response.submitted_at == datetime(2025, 3, 15, 12, tzinfo=VN)  # --date, at noon Vietnam time


def test_unknown_columns_refuse_the_file_before_any_row(app, runner, place, tmp_path):
    columns = [*COLUMNS, "ho_ten", "Số điện thoại"]
    rows = [good() | {"ho_ten": "Nguyễn Văn A", "Số điện thoại": "0912"}]
    result = run(runner, write_csv(tmp_path / "extra.csv", rows, columns))
    assert result.exit_code == 1
    assert "extra.csv: unknown column(s) ho_ten, số điện thoại" in result.output
    assert "Nothing was imported" in result.output and "Traceback" not in result.output
    assert stored(app) == []


UNREADABLE = [
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b"\xef\xbb\xbf\r\n\r\n", "the file is empty"),
    ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    ("windows.csv", "access_1;comment\r\n4;Hài lòng\r\n".encode("cp1258", errors="replace").replace(b"?", b"\xe0"), "not UTF-8 text"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old Excel .xls"),
    ("broken.xlsx", b"PK\x03\x04" + b"not really a zip", "cannot be read as an .xlsx workbook"),
    ("prose.csv", "Báo cáo kết quả khảo sát năm 2025\r\nxem tệp đính kèm\r\n".encode(), "unknown column(s) báo cáo kết quả khảo sát năm 2025"),
    ("header.csv", b"access_1,,overall\r\n4,,5\r\n", "no name in column(s) 2"),
    ("twice.csv", b"overall,overall\r\n4,5\r\n", "column(s) overall appear twice"),
]


def test_unreadable_files_give_one_clear_line(app, runner, tmp_path):
    for name, content, message in UNREADABLE:
        path = tmp_path / name
        path.write_bytes(content)
        result = run(runner, path)
        assert result.exit_code == 1, name
        assert message in result.output, result.output
        assert result.output.startswith(f"Error: {name}") and "Traceback" not in result.output
    assert stored(app) == []


def test_import_is_repeatable_and_a_fixed_file_adds_only_the_fixed_rows(app, runner, place, tmp_path):
    rows = [good(access_2=str(c % 6)) for c in range(6)] + [good(overall="9"), good()]  # rows 1 and 7 are identical
    path = write_csv(tmp_path / "batch.csv", rows)
    first = run(runner, path)
    assert first.exit_code == 1 and "Imported 7 response(s)" in first.output
    again = run(runner, path)
    assert "Imported 0 response(s)" in again.output and "7 already imported, skipped" in again.output
    assert "line 2: already imported (response " in again.output
    rows[6]["overall"] = "3"
    fixed = run(runner, write_csv(path, rows))
    assert fixed.exit_code == 0, fixed.output
    assert "Imported 1 response(s)" in fixed.output and "7 already imported" in fixed.output
    saved = stored(app)
    assert len(saved) == 8
    assert sum(1 for _, a in saved if a["access_2"] == 4 and a["overall"] == 5) == 2, "two identical forms, two respondents"


def test_all_or_nothing_refuses_the_whole_file(app, runner, place, tmp_path):
    path = write_csv(tmp_path / "strict.csv", [good(), good(access_1="6"), good(gender="1")])
    result = run(runner, path, "--all-or-nothing")
    assert result.exit_code == 1
    assert "line 3, column access_1: 6 is not a valid code" in result.output
    assert "1 bad row(s) in strict.csv: nothing imported (--all-or-nothing)" in result.output
    assert stored(app) == []
    dry = run(runner, write_csv(path, [good(), good(gender="1")]), "--dry-run")
    assert dry.exit_code == 0 and "Dry run, nothing stored: 2 row(s) would be imported" in dry.output
    assert stored(app) == []


def test_xlsx_reads_back_like_the_csv(app, runner, place, tmp_path):
    """Numbers as Excel numbers, the date as an Excel date: the same forms as the CSV, so a
    CSV of the same rows imported afterwards finds them all already there."""
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    rows = [good(form_id="", access_3="5"), good(form_id="", gender="", comment="Thủ tục nhanh gọn, cảm ơn.")]
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row[column]
            if column == "submitted_at":
                value = datetime(2025, 3, 20)
            elif value.isdigit():
                value = int(value) if column != "access_1" else float(value)  # 4.0 as Excel stores numbers
            cells.append(value if value != "" else None)
        sheet.append(cells)
    sheet.append(["", None, "  "])  # a row that only looks blank (Excel keeps such rows in the used range)
    path = tmp_path / "phieu.xlsx"
    book.save(path)
    result = run(runner, path)
    assert result.exit_code == 0, result.output
    assert "Imported 2 response(s) from phieu.xlsx" in result.output and "1 blank line(s) ignored" in result.output
    (r1, a1), (r2, a2) = stored(app)
    assert a1["access_3"] == 5 and a1["access_1"] == 4 and r1.submitted_at == datetime(2025, 3, 20, 12, tzinfo=VN)
    assert a2["comment"] == "Thủ tục nhanh gọn, cảm ơn." and "gender" not in a2
    same = run(runner, write_csv(tmp_path / "phieu.csv", rows))
    assert "Imported 0 response(s)" in same.output and "2 already imported" in same.output


def test_csv_without_bom_with_semicolons_and_a_line_break_in_a_cell(app, runner, place, tmp_path):
    """Excel numbers rows by record: a comment with a line break is still one row."""
    rows = [good(comment="Dòng một\nDòng hai"), good(access_1="8")]
    path = write_csv(tmp_path / "semi.csv", rows, bom=False, delimiter=";")
    result = run(runner, path)
    assert result.exit_code == 1
    assert "line 3, column access_1: 8 is not a valid code" in result.output
    assert stored(app)[0][1]["comment"] == "Dòng một\nDòng hai"


def test_imported_forms_are_flagged_like_web_ones_and_reach_the_reports(app, runner, place, tmp_path):
    rows = [good(**{c: "5" for c in SIPAS_CRITERIA if c not in ("feedback_3", "feedback_4")}), good(access_1="5")]
    result = run(runner, write_csv(tmp_path / "flat.csv", rows))
    assert "1 flagged by quality checks" in result.output
    with app.app_context():
        session = get_session()
        reasons = session.scalars(select(ResponseFlag.reason)).all()
        from survey.reporting.selection import Selection
        from survey.reporting.standard import counts_frame
        frame = counts_frame(session, Selection("sipas-local", since=date(2025, 3, 1), until=date(2025, 3, 31)),
                             refresh_first=False)
    assert reasons == ["straightline"]
    overall = frame[frame["item"] == "overall"]
    assert overall["n"].sum() == 2 and overall.loc[overall["flagged"], "flag_reason"].tolist() == ["straightline"]


def test_template_lists_the_columns(app, runner, tmp_path):
    out = tmp_path / "mau.csv"
    result = runner.invoke(args=["responses", "template", "--questionnaire", "sipas-local", "--out", str(out)])
    assert result.exit_code == 0, result.output
    header = out.read_bytes()
    assert header.startswith(b"\xef\xbb\xbf")
    columns = header.decode("utf-8-sig").strip().split(",")
    assert columns[:3] == ["form_id", "submitted_at", "unit"] and "access_1" in columns and "gender" in columns
    missing = runner.invoke(args=["responses", "import", str(out), "--questionnaire", "nope"])
    assert missing.exit_code == 1 and "questionnaire 'nope' is not published" in missing.output
    answer_count = None
    with app.app_context():
        answer_count = get_session().scalar(select(func.count()).select_from(Answer))
    assert answer_count == 0


# ---------------------------------------------------------------- hostile files and non-canonical input (issue #9)


@pytest.mark.parametrize("text", ["١", "４", "4_0", "4e0", "٤", "4.0.0"])
def test_answer_codes_take_ascii_digits_only(app, runner, place, tmp_path, text):
    result = run(runner, write_csv(tmp_path / "digits.csv", [good(form_id="D-1", staff_1=text), good(form_id="D-2")]))
    assert result.exit_code == 1
    assert f"line 2, column staff_1: '{text}' is not a code" in result.output
    assert len(stored(app)) == 1
    assert run(runner, write_csv(tmp_path / "ok.csv", [good(form_id="D-3", staff_1="4,0")])).exit_code == 0


def test_submitted_at_takes_ascii_digits_only(app, runner, place, tmp_path):
    result = run(runner, write_csv(tmp_path / "d.csv", [good(submitted_at="٢٠/٠٣/٢٠٢٥")]))
    assert result.exit_code == 1 and "line 2, column submitted_at:" in result.output and "ordinary digits" in result.output


def test_nul_after_the_first_4_kb_refuses_the_file_naming_the_line(app, runner, place, tmp_path):
    rows = [good(form_id=f"N-{i}") for i in range(40)]
    rows[30]["comment"] = "ý kiến\x00"
    path = write_csv(tmp_path / "nul.csv", rows)
    assert path.read_bytes().index(b"\x00") > 4096
    result = run(runner, path)
    assert result.exit_code == 1 and "nul.csv: line 32: contains a NUL byte" in result.output
    assert "Traceback" not in result.output and stored(app) == []


def test_oversized_cell_and_line_separator_are_one_clear_line(app, runner, place, tmp_path):
    huge = run(runner, write_csv(tmp_path / "huge.csv", [good(), good(comment="x" * 200_000)]))
    assert huge.exit_code == 1 and "huge.csv: line 3: a cell longer than 131.072 characters" in huge.output
    long = run(runner, write_csv(tmp_path / "long.csv", [good(), good(comment="x" * 6000)]))
    assert long.exit_code == 1 and "long.csv: line 3, column" in long.output and "(comment): 6.000 characters" in long.output
    separator = run(runner, write_csv(tmp_path / "sep.csv", [good(comment="dòng 1\u2028dòng 2")]))
    assert separator.exit_code == 1 and "sep.csv: line 2, column" in separator.output
    assert "(comment): contains U+2028 LINE SEPARATOR" in separator.output
    assert stored(app) == []


@pytest.mark.timeout(120)
def test_a_hostile_workbook_is_refused_up_front(app, runner, place, tmp_path):
    """A few hundred KB that unpack to hundreds of MB of cells (the review's 553 KB file took
    1.7 GB and 43 s): refused from the zip's directory, before any XML is parsed."""
    import zipfile

    path = tmp_path / "bomb.xlsx"
    book = Workbook()
    book.active.append(COLUMNS)
    book.save(path)
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i) for i in src.infolist()}
    row = b"<row>" + b"<c><v>4</v></c>" * 40 + b"</row>"
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b"</sheetData>", row * 400_000 + b"</sheetData>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    assert path.stat().st_size < 1_000_000
    result = run(runner, path)
    assert result.exit_code == 1 and "bomb.xlsx: unpacks to 233 MB; at most 200 MB" in result.output
    assert "Traceback" not in result.output and stored(app) == []


def test_template_header_is_formula_safe_csv(app, runner, tmp_path):
    out = tmp_path / "mau.csv"
    assert runner.invoke(args=["responses", "template", "--questionnaire", "sipas-local", "--out", str(out)]).exit_code == 0
    [header] = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert header[:2] == ["form_id", "submitted_at"] and not any(c.startswith(("=", "+", "-", "@")) for c in header)


def test_a_field_is_found_by_code_or_vietnamese_name(app, runner, place, tmp_path):
    """Issue #11 item 12: 'Đất đai' (spaces forgiven) and 'dat-dai' are the same field."""
    rows = [good(form_id="A1", field="Đất đai"), good(form_id="A2", field="  Đất   đai "), good(form_id="A3", field="dat-dai"),
            good(form_id="A4", field="đất đai")]
    result = run(runner, write_csv(tmp_path / "f.csv", rows))
    assert result.exit_code == 1 and "Imported 3 response(s)" in result.output
    assert "line 5, column field: unknown field 'đất đai'" in result.output and "tu-phap-ho-tich (Tư pháp – Hộ tịch)" in result.output
    with app.app_context():
        land = get_session().scalar(select(Field).filter_by(code="dat-dai"))
        assert {r.field_id for r, _ in stored(app)} == {land.id}


def test_undated_rows_need_the_date_option(app, runner, place, tmp_path):
    """Issue #11 item 13: the date decides the target, so it is never guessed as 'today'."""
    path = write_csv(tmp_path / "d.csv", [good(form_id="D1", submitted_at=""), good(form_id="D2")])
    refused = run(runner, path)
    assert refused.exit_code == 1 and "line 2, column submitted_at: blank" in refused.output and "--date" in refused.output
    assert len(stored(app)) == 1
    dated = run(runner, path, "--date", "05/02/2025")
    assert dated.exit_code == 0, dated.output
    assert "1 without submitted_at, dated 05/02/2025 (--date)" in dated.output
    assert stored(app)[-1][0].submitted_at == datetime(2025, 2, 5, 12, tzinfo=VN)
    assert run(runner, path, "--date", "31/02/2025").exit_code == 2  # not a date: click names the option


def test_fields_exist_after_db_upgrade_so_a_fresh_database_can_import(app, runner, tmp_path):
    """Issue #11 item 12: fields and procedures are national reference data, seeded by `db upgrade`
    (here the app's schema comes from create_all, so the import's own seeding is what runs)."""
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Field)) == 0
    path = write_csv(tmp_path / "f.csv", [good(unit="", field="Tư pháp – Hộ tịch", procedure="ht-khai-sinh")])
    result = run(runner, path)
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count()).select_from(Field)) >= 16
        assert session.scalar(select(func.count()).select_from(Procedure)) >= 16


def test_cli_language_follows_the_locale(app, runner, place, tmp_path, monkeypatch):
    """Issue #11 item 17: Vietnamese for civil servants unless the locale asks for English."""
    path = write_csv(tmp_path / "v.csv", [good(form_id="V1")])
    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")
    assert "Đã nhập 1 phiếu từ v.csv vào sipas-local v1." in run(runner, path).output
    monkeypatch.delenv("LC_ALL")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert "dòng 2: đã nhập trước đây" in run(runner, path).output


def test_template_is_an_xlsx_with_a_codebook_and_drop_downs(app, runner, place, tmp_path, monkeypatch):
    """Issue #11 item 14: every coded item column only accepts its valid codes, read back with openpyxl."""
    from openpyxl import load_workbook

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["responses", "template", "--questionnaire", "sipas-local"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "mau-nhap-sipas-local-v1.xlsx"
    assert f"written to {path}" in result.output
    book = load_workbook(path)
    assert book.sheetnames == ["Phieu", "Bang ma"]
    sheet = book["Phieu"]
    header = [c.value for c in sheet[1]]
    rules = {}
    for rule in sheet.data_validations.dataValidation:
        for cell_range in rule.sqref.ranges:
            rules[header[cell_range.min_col - 1]] = (rule, str(cell_range))
    with app.app_context():
        q = catalog.definition(catalog.latest(get_session(), "sipas-local"))
    coded = [i for i in q.items if i.type in ("satisfaction", "single")]
    assert coded and all(i.key in rules for i in coded)
    for item in coded:
        rule, where = rules[item.key]
        assert rule.type == "list" and rule.showErrorMessage and where.endswith("5001")
        assert sorted(int(c) for c in rule.formula1.strip('"').split(",")) == sorted(item.valid_codes)
    access = rules["access_1"][0]
    assert access.formula1 == '"1,2,3,4,5,0"' or set(access.formula1.strip('"').split(",")) >= {"1", "5"}
    assert rules["channel"][0].formula1.strip('"').split(",") == ["web", "counter", "dossier", "paper", "phone", "post"]
    assert "Bang ma" in rules["field"][0].formula1
    codebook = list(book["Bang ma"].iter_rows(values_only=True))
    gender = [r for r in codebook if r[0] == "gender"]
    assert {r[4] for r in gender} == {o.code for o in next(i for i in q.items if i.key == "gender").options}
    assert ("field", None, "lĩnh vực", "mã hoặc tên", "dat-dai", "Đất đai") in codebook
    # the template, filled in, imports
    sheet.append([None, "20/03/2025", "X1", None, "Đất đai"] + [None] * (len(header) - 5))
    row = sheet.max_row
    for column, value in good().items():
        if column in header and column not in ("form_id", "submitted_at", "unit", "counter", "field"):
            sheet.cell(row, header.index(column) + 1, value or None)
    book.save(path)
    imported = run(runner, path)
    assert imported.exit_code == 0 and "Imported 1 response(s)" in imported.output, imported.output
    assert "line 2: already imported" in run(runner, path).output
    csv_out = runner.invoke(args=["responses", "template", "--questionnaire", "sipas-local", "--format", "csv"])
    assert csv_out.stdout.lstrip("\ufeff").startswith("form_id,submitted_at,unit")
