"""Microdata exports (`responses export`, /staff/reports/<code>/du-lieu-vi-mo): the files read
back (CSV with BOM and its codebook, XLSX with openpyxl, .sav with pyreadstat) against the rows
inserted here, personal data masked, formula cells neutralised, a version lacking an item, an
empty selection, and the reader's subtree."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pyreadstat
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from questionnaires.loader import load_dict
from survey import catalog
from survey.db import get_session
from survey.models import Answer, AuditEvent, Field, Response, ResponseFlag, Unit
from survey.reporting import microdata
from survey.reporting.comments import EMAIL_MASK, ID_MASK, PHONE_MASK
from tests.staff.conftest import as_role, tree  # noqa: F401  (fixtures: units 33 → 11953, 12001 and a reader of 11953)

KEY = "micro-test"
COMMENT = ("Gọi tôi 0912345678 hoặc +84 912 345 679, CCCD 001234567890, email an.nguyen@example.vn nhé")
FORMULA = '=HYPERLINK("http://x.example","bấm")'
HEADER = ["row", "month", "unit", "field", "channel", "source", "language", "version", "flags", "excluded",
          "q1", "age", "channel_seen_1", "channel_seen_2", "channel_seen_3", "comment"]


def definition(version: int) -> dict:
    """Version 1 has no 'age' item; version 2 added it."""
    items = [
        {"key": "q1", "type": "satisfaction", "label": {"vi": "Cán bộ có thái độ lịch sự", "en": "Staff were polite"}},
        {"key": "channel_seen", "type": "multiple", "label": {"vi": "Ông/Bà biết thông tin qua đâu", "en": "Where from"},
         "options": [{"code": 1, "label": {"vi": "Bảng niêm yết", "en": "Notice board"}},
                     {"code": 2, "label": {"vi": "Cổng thông tin", "en": "Portal"}},
                     {"code": 3, "label": {"vi": "Người quen", "en": "Friends"}}]},
        {"key": "comment", "type": "textarea", "label": {"vi": "Ý kiến khác", "en": "Other comments"}},
    ]
    if version == 2:
        items.insert(1, {"key": "age", "type": "number", "min": 18, "max": 99, "label": {"vi": "Tuổi", "en": "Age"}})
    return {"key": KEY, "version": version, "title": {"vi": "Phiếu thử", "en": "Test form"}, "source": {"document": "test"},
            "sections": [{"key": "s", "title": {"vi": "Phần 1", "en": "Part 1"}, "items": items}]}


@pytest.fixture
def data(app, tree):  # noqa: F811
    """Three responses: R1 (v2, commune A), R2 (v1, commune B, 31/03 18:30 UTC = April in Vietnam),
    R3 (v2, commune A, flagged). A response of another questionnaire first, so row numbers and ids differ."""
    with app.app_context():
        s = get_session()
        v1, _ = catalog.publish(s, load_dict(definition(1)))
        v2, _ = catalog.publish(s, load_dict(definition(2)))
        other = catalog.latest(s, "counter-quick")
        unit = {u.code: u.id for u in s.scalars(select(Unit))}
        field = {f.code: f.id for f in s.scalars(select(Field))}

        def add(version, code, when, answers, fld=None, channel="counter", flags=()):
            r = Response(version_id=version.id, submitted_at=when, channel=channel, source="feedback", language="vi",
                         unit_id=unit[code], field_id=field.get(fld), device_hash="f" * 64)
            r.answers = [Answer(item_key=k, code=c, text=t) for k, c, t in answers]
            r.flags = [ResponseFlag(reason=f, detail="test") for f in flags]
            s.add(r)
            s.flush()
            return r.id

        add(other, "11953", datetime(2025, 3, 1, tzinfo=UTC), [])
        ids = [
            add(v2, "11953", datetime(2025, 3, 10, 3, 15, tzinfo=UTC),
                [("q1", 5, None), ("age", 34, None), ("channel_seen", 1, None), ("channel_seen", 3, None),
                 ("comment", None, COMMENT)], fld="dat-dai"),
            add(v1, "12001", datetime(2025, 3, 31, 18, 30, tzinfo=UTC), [("q1", 4, None), ("comment", None, FORMULA)],
                fld="tu-phap-ho-tich", channel="web"),
            add(v2, "11953", datetime(2025, 4, 2, 2, tzinfo=UTC), [("q1", 1, None), ("comment", None, "@SUM(A1:A9)")],
                flags=("speeder",)),
        ]
        s.commit()
    return ids


def export(runner, out, *args):
    return runner.invoke(args=["responses", "export", "--questionnaire", KEY, "--out", str(out), *args])


def read_csv(raw: bytes) -> list[dict[str, str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Excel reads Vietnamese correctly"
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


def test_csv_rows_columns_masking_and_codebook(runner, data, tmp_path):
    out = tmp_path / "vi-mo.csv"
    result = export(runner, out)
    assert result.exit_code == 0, result.output
    assert "2 phiếu" in result.output
    raw = out.read_bytes()
    assert raw[3:].decode().splitlines()[0].split(",") == HEADER
    rows = read_csv(raw)
    assert len(rows) == 2, "the flagged response is left out by default, as in reports"
    r1, r2 = rows
    assert (r1["row"], r2["row"]) == ("1", "2"), "a running number, not the database id"
    assert {str(i) for i in data[:2]} != {"1", "2"}
    assert r1 | {"comment": ""} == {
        "row": "1", "month": "2025-03", "unit": "11953", "field": "dat-dai", "channel": "counter", "source": "feedback",
        "language": "vi", "version": "2", "flags": "0", "excluded": "0", "q1": "5", "age": "34",
        "channel_seen_1": "1", "channel_seen_2": "0", "channel_seen_3": "1", "comment": ""}
    assert r2["month"] == "2025-04", "18:30 UTC on 31 March is 1 April in Vietnam"
    assert r2["age"] == "" and r2["version"] == "1", "version 1 has no age item: an empty cell"
    assert [r2[f"channel_seen_{c}"] for c in (1, 2, 3)] == ["", "", ""], "no option chosen: empty, not 0"
    assert r2["comment"] == "'" + FORMULA, "a formula is neutralised with a leading apostrophe"
    comment = r1["comment"]
    for personal in ("0912345678", "912 345 679", "001234567890", "an.nguyen@example.vn", "+84"):
        assert personal not in comment
    assert comment.count(PHONE_MASK) == 2 and ID_MASK in comment and EMAIL_MASK in comment
    assert comment.startswith("Gọi tôi ") and comment.endswith(" nhé")
    text = raw.decode("utf-8")
    assert "f" * 64 not in text and "03:15" not in text and "2025-03-10" not in text, "no device hash, no time, no day"

    codebook = list(csv.reader(io.StringIO(microdata.codebook_path(out).read_bytes()[3:].decode(), newline="")))
    assert codebook[0][:7] == ["cột", "câu hỏi (mã)", "số câu", "nội dung", "kiểu", "mã", "ý nghĩa"]
    age = next(r for r in codebook if r and r[0] == "age")
    assert age[3] == "Tuổi" and "phiên bản 1" in age[7] and "18" in age[7]
    q1 = {r[5]: r[6] for r in codebook if r and r[0] == "q1"}
    assert q1 == {"1": "Rất không hài lòng", "2": "Không hài lòng", "3": "Bình thường", "4": "Hài lòng", "5": "Rất hài lòng"}
    seen = next(r for r in codebook if r and r[0] == "channel_seen_3")
    assert "Người quen" in seen[3] and seen[1] == "channel_seen"
    assert {c[0] for c in codebook if c} >= set(HEADER), "every column is explained"


def test_flagged_included_on_request_and_counted(runner, data, tmp_path):
    out = tmp_path / "all.csv"
    assert export(runner, out, "--include-flagged").exit_code == 0
    rows = read_csv(out.read_bytes())
    assert [(r["q1"], r["flags"], r["excluded"]) for r in rows] == [("5", "0", "0"), ("4", "0", "0"), ("1", "1", "1")]
    assert rows[2]["comment"] == "'@SUM(A1:A9)"


def test_filters_by_unit_and_dates_and_a_bad_filter_is_named(runner, data, tmp_path):
    out = tmp_path / "b.csv"
    result = export(runner, out, "--unit", "12001", "--from", "01/04/2025", "--to", "30/04/2025")
    assert result.exit_code == 0, result.output
    assert [(r["unit"], r["q1"]) for r in read_csv(out.read_bytes())] == [("12001", "4")]
    result = export(runner, tmp_path / "x.csv", "--unit", "99999")
    assert result.exit_code != 0 and "99999" in result.output and "Traceback" not in result.output


def test_empty_selection_gives_a_header_only_file(runner, data, tmp_path):
    out = tmp_path / "empty.csv"
    result = export(runner, out, "--from", "01/01/2030")
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[3:].decode().splitlines() == [",".join(HEADER)]
    assert "chỉ có dòng tiêu đề" in result.output


def test_xlsx_read_back(runner, data, tmp_path):
    out = tmp_path / "vi-mo.xlsx"
    assert export(runner, out, "--format", "xlsx", "--include-flagged").exit_code == 0
    book = load_workbook(out)
    assert book.sheetnames == [microdata.DATA_SHEET, microdata.CODEBOOK_SHEET]
    sheet = book[microdata.DATA_SHEET]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == HEADER and len(values) == 4
    r1 = dict(zip(HEADER, values[1]))
    assert (r1["q1"], r1["age"], r1["channel_seen_2"], r1["month"]) == (5, 34, 0, "2025-03"), "numbers stay numbers"
    comment_cell = sheet.cell(row=3, column=HEADER.index("comment") + 1)
    assert comment_cell.value == "'" + FORMULA and comment_cell.data_type == "s", "text, never a formula"
    assert dict(zip(HEADER, values[2]))["age"] is None
    codebook = [[c.value for c in row] for row in book[microdata.CODEBOOK_SHEET].iter_rows()]
    assert any(r[0] == "q1" and r[5] == 5 and r[6] == "Rất hài lòng" for r in codebook)


def test_sav_has_variable_and_value_labels(runner, data, tmp_path):
    out = tmp_path / "vi-mo.sav"
    result = export(runner, out, "--format", "sav", "--include-flagged")
    assert result.exit_code == 0, result.output
    frame, meta = pyreadstat.read_sav(str(out))
    assert list(frame.columns) == HEADER and len(frame) == 3
    assert meta.column_names_to_labels["age"] == "2. Tuổi", "the question's number on the form, then its wording"
    assert meta.variable_value_labels["q1"][5.0] == "Rất hài lòng"
    assert meta.variable_value_labels["channel_seen_1"] == {0.0: "không", 1.0: "có"}
    assert frame["q1"].tolist() == [5.0, 4.0, 1.0]
    assert frame["age"].isna().tolist() == [False, True, True], "R2 answered version 1 (no age item), R3 skipped it"
    assert frame["unit"].tolist() == ["11953", "12001", "11953"]
    assert PHONE_MASK in frame["comment"][0] and "0912345678" not in frame["comment"][0]


def test_sav_refuses_more_rows_than_its_bound(runner, data, tmp_path, monkeypatch):
    monkeypatch.setattr(microdata, "SAV_MAX_ROWS", 1)
    result = export(runner, tmp_path / "x.sav", "--format", "sav")
    assert result.exit_code != 0 and "CSV" in result.output and not (tmp_path / "x.sav").exists()


def test_reader_page_counts_and_downloads_an_audited_csv(app, as_role, data):  # noqa: F811
    reader = as_role("reader")  # reader of commune 11953
    query = f"phieu={KEY}&ky=year&gia_tri=2025"
    page = reader.get(f"/staff/reports/11953/du-lieu-vi-mo?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "1 phiếu phù hợp" in html, "R1 only: R2 is in commune B, R3 is flagged"
    resp = reader.get(f"/staff/reports/11953/du-lieu-vi-mo/tai-ve?{query}&dinh_dang=csv")
    assert resp.status_code == 200 and resp.is_streamed
    rows = read_csv(resp.get_data())
    assert [(r["unit"], r["q1"], r["age"]) for r in rows] == [("11953", "5", "34")]
    assert PHONE_MASK in rows[0]["comment"]
    with app.app_context():
        event = get_session().scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()[-1]
        detail = json.loads(event.detail)
    assert event.target == "reports/11953/du-lieu-vi-mo.csv" and detail["rows"] == 1 and detail["phieu"] == KEY
    codebook = reader.get(f"/staff/reports/11953/du-lieu-vi-mo/bang-ma.csv?{query}")
    assert codebook.status_code == 200 and "Tuổi" in codebook.get_data(as_text=True)
    for fmt in ("xlsx", "sav"):
        resp = reader.get(f"/staff/reports/11953/du-lieu-vi-mo/tai-ve?phieu={KEY}&ky=year&gia_tri=2025&dinh_dang={fmt}")
        assert resp.status_code == 200 and len(resp.get_data()) > 500 and "attachment" in resp.headers["Content-Disposition"]


def test_reader_outside_the_unit_gets_403(as_role, data):  # noqa: F811
    reader = as_role("reader")
    assert reader.get(f"/staff/reports/12001/du-lieu-vi-mo?phieu={KEY}").status_code == 403
    assert reader.get(f"/staff/reports/12001/du-lieu-vi-mo/tai-ve?phieu={KEY}&dinh_dang=csv").status_code == 403
    assert reader.get(f"/staff/reports/33/du-lieu-vi-mo/tai-ve?phieu={KEY}&dinh_dang=csv").status_code == 403


def test_empty_selection_page_says_zero_and_file_is_header_only(as_role, data):  # noqa: F811
    reader = as_role("reader")
    query = f"phieu={KEY}&ky=year&gia_tri=2024"
    html = reader.get(f"/staff/reports/11953/du-lieu-vi-mo?{query}").get_data(as_text=True)
    assert "0 phiếu phù hợp" in html and "chỉ có dòng tiêu đề" in html
    raw = reader.get(f"/staff/reports/11953/du-lieu-vi-mo/tai-ve?{query}&dinh_dang=csv").get_data()
    assert raw[3:].decode().splitlines() == [",".join(HEADER)]


def test_bad_requests_are_400_pages_that_say_the_fix(as_role, data, monkeypatch):  # noqa: F811
    reader = as_role("reader")
    for query, says in (("dinh_dang=pdf&phieu=micro-test", "CSV, XLSX"), ("dinh_dang=csv", "Chọn một phiếu"),
                        ("dinh_dang=csv&phieu=khong-co", "khong-co"),
                        ("dinh_dang=csv&phieu=micro-test&ky=custom&tu=31/12/2025&den=01/01/2025", "trước khi bắt đầu")):
        resp = reader.get(f"/staff/reports/11953/du-lieu-vi-mo/tai-ve?{query}")
        assert resp.status_code == 400 and says in resp.get_data(as_text=True), query
    monkeypatch.setattr(microdata, "SAV_MAX_ROWS", 0)
    resp = reader.get(f"/staff/reports/11953/du-lieu-vi-mo/tai-ve?phieu={KEY}&ky=year&gia_tri=2025&dinh_dang=sav")
    assert resp.status_code == 400 and "CSV" in resp.get_data(as_text=True)


AWKWARD = '  <b>&"x", hai\ndòng\x01  '  # spaces that lead and trail, markup, a quote, a comma, a line break, a control character


@pytest.fixture
def more(app, data):
    """R4 (v2, commune A, only option 2 ticked, an awkward comment) after three responses of another
    questionnaire: commune A's ids are then 2, 4 and 8 (other questionnaires' responses between)."""
    with app.app_context():
        s = get_session()
        v2 = catalog.latest(s, KEY)
        other = catalog.latest(s, "counter-quick")
        unit = s.scalar(select(Unit.id).where(Unit.code == "11953"))
        for _ in range(3):
            s.add(Response(version_id=other.id, submitted_at=datetime(2025, 5, 1, tzinfo=UTC), channel="counter",
                           source="feedback", language="vi", unit_id=unit))
        r4 = Response(version_id=v2.id, submitted_at=datetime(2025, 5, 2, tzinfo=UTC), channel="web", source="feedback",
                      language="vi", unit_id=unit)
        r4.answers = [Answer(item_key="q1", code=3), Answer(item_key="channel_seen", code=2),
                      Answer(item_key="comment", text=AWKWARD)]
        s.add(r4)
        s.commit()


def test_chunks_by_range_and_by_id_give_the_same_file_and_xlsx_agrees_with_csv(runner, more, tmp_path, monkeypatch):
    whole = tmp_path / "whole.csv"
    assert export(runner, whole, "--unit", "11953", "--include-flagged").exit_code == 0
    for chunk in (2, 3):  # ids 2, 4 | 8 read as ranges; 2, 4, 8 (a gap wider than the chunk) read by id
        monkeypatch.setattr(microdata, "CHUNK", chunk)
        pieces = tmp_path / f"pieces-{chunk}.csv"
        assert export(runner, pieces, "--unit", "11953", "--include-flagged").exit_code == 0
        assert pieces.read_bytes() == whole.read_bytes(), f"chunks of {chunk}: boundaries and by-id reads change nothing"
    rows = read_csv(whole.read_bytes())
    assert [(r["row"], r["q1"], r["flags"]) for r in rows] == [("1", "5", "0"), ("2", "1", "1"), ("3", "3", "0")]
    r4 = rows[2]
    assert [r4[f"channel_seen_{c}"] for c in (1, 2, 3)] == ["0", "1", "0"], "one option ticked: the others are 0"
    assert (r4["comment"], r4["age"], r4["month"], r4["channel"]) == (AWKWARD, "", "2025-05", "web")
    assert [r["channel_seen_1"] for r in rows] == ["1", "", "0"], "R3 answered no option: empty"

    book = tmp_path / "vi-mo.xlsx"
    assert export(runner, book, "--unit", "11953", "--include-flagged", "--format", "xlsx").exit_code == 0
    sheet = load_workbook(book)[microdata.DATA_SHEET]
    cells = [["" if c.value is None else str(c.value) for c in row] for row in sheet.iter_rows()]
    assert cells[0] == HEADER
    assert cells[3][HEADER.index("comment")] == AWKWARD.replace("\x01", "\ufffd"), \
        "spaces, markup and line break kept; a character XML cannot hold replaced, not the file lost"
    assert sheet.cell(row=4, column=HEADER.index("q1") + 1).value == 3, "a number, not text"
    cells[3][HEADER.index("comment")] = AWKWARD
    assert cells[1:] == [[r[h] for h in HEADER] for r in rows], "openpyxl reads the workbook as csv reads the CSV"
    assert sheet.freeze_panes == "B2" and sheet["A1"].font.b, "header row bold and frozen"
