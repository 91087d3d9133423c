"""The PDF report (and the report files the CLI writes): the PDF's text read back with pypdfium2
and held against the Dashboard for the same filters and against shares counted here from the
inserted rows; the administrative header; masked comments; an empty selection says so; the CLI
writes the page's bytes for xlsx and pdf."""
from __future__ import annotations

import io
import json

import pypdfium2
import pytest
from openpyxl import load_workbook
from sqlalchemy import exists, select

from survey.db import get_session
from survey.i18n import format_number, format_pct
from survey.models import Answer, Field, Response, ResponseFlag, Unit
from survey.reporting import dashboard
from tests.staff.conftest import as_role, audit_rows, tree  # noqa: F401  (fixtures)
from tests.staff.test_reports_pages import QUARTER, satisfied, seed_commune

LAND = {**QUARTER, "linh_vuc": "dat-dai"}


def pdf_text(data: bytes) -> str:
    pdf = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def flat(text: str) -> str:
    """Text as extracted, with line breaks and hyphen-free wrapping joined to single spaces."""
    return " ".join(text.split())


@pytest.fixture
def data(app, tree):  # noqa: F811
    rows = seed_commune(app)
    with app.app_context():
        session = get_session()
        unit = session.scalar(select(Unit).where(Unit.code == "11953"))
        land = session.scalar(select(Field.id).where(Field.code == "dat-dai"))
        newest = session.scalar(select(Response).where(Response.unit_id == unit.id, Response.field_id == land,
                                                      ~exists().where(ResponseFlag.response_id == Response.id))
                                .order_by(Response.submitted_at.desc()).limit(1))
        session.add(Answer(response_id=newest.id, item_key="comment",
                           text="Gọi lại cho tôi 0912 345 678 hoặc an.nguyen@example.vn, CCCD 001203004005"))
        session.commit()
    return rows


def board_for(app, query: dict) -> dashboard.Dashboard:
    with app.app_context():
        period = dashboard.parse_period(query["ky"], query.get("gia_tri", ""))
        return dashboard.build(get_session(), dashboard.Filters(period, "11953", field=query.get("linh_vuc")))


def test_pdf_holds_the_dashboards_figures_in_administrative_form(as_role, data, app):  # noqa: F811
    resp = as_role("reader").get("/staff/reports/11953/bao-cao.pdf", query_string=LAND)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "attachment" in resp.headers["Content-Disposition"] and resp.data.startswith(b"%PDF")
    text = flat(pdf_text(resp.data))
    # Nghị định 30 header: motto, governing body and issuing unit, number, place and date, title
    for words in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "TỈNH HƯNG YÊN", "PHƯỜNG PHỐ HIẾN",
                  "/BC-11953", "Hưng Yên, ngày", "BÁO CÁO", "Kết quả khảo sát sự hài lòng", "I. MỤC ĐÍCH",
                  "II. PHƯƠNG PHÁP", "III. KẾT QUẢ", "IV. KẾT LUẬN VÀ KIẾN NGHỊ", "(Phần này do người soạn báo cáo viết.)",
                  "PHỤ LỤC: PHƯƠNG PHÁP", "Wilson", "Thời điểm chốt dữ liệu", "Quý I/2025"):
        assert words in text, words
    board = board_for(app, LAND)
    assert board.fields, "the selection has figures"
    for r in board.fields:
        sentence = f"{format_pct(r.current.pct)} hài lòng (khoảng tin cậy 95%: {format_pct(r.current.ci_low)} – " \
                   f"{format_pct(r.current.ci_high)}; n = {format_number(r.current.n, 0)})"
        assert sentence in text, sentence
        assert r.target is not None and f"{r.target.source[:40]}" in text
    # and the figures are right, not merely copied: shares counted here from the inserted rows
    for source in ("feedback", "sample"):
        rows = [r for r in data if r.unit == "11953" and r.field == "dat-dai" and r.source == source and not r.flags]
        x, n = satisfied(rows)
        assert f"{format_pct(100 * x / n)} hài lòng" in text and f"n = {n})" in text
    for verdict in ("Đạt", "Không đạt", "Chưa đủ cơ sở kết luận", "Chưa đủ dữ liệu"):
        if any(r.verdict_label == verdict for r in board.fields):
            assert f": {verdict}." in text
    # units under 30 answers carry no percentage; the criteria table is printed beside its chart
    assert "Chưa đủ dữ liệu (dưới 30 phiếu)" in text or all(u.figure.n >= 30 for u in board.units)
    assert board.criteria.iloc[0]["label"][:30] in text
    # comments masked
    assert "0912 345 678" not in text and "an.nguyen@example.vn" not in text and "001203004005" not in text
    assert "[số điện thoại đã ẩn]" in text and "[email đã ẩn]" in text
    [event] = audit_rows(app, "export")
    assert event.target == "reports/11953/bao-cao.pdf"


def test_pdf_of_an_empty_selection_says_so(as_role, data):  # noqa: F811
    resp = as_role("reader").get("/staff/reports/11953/bao-cao.pdf", query_string={"ky": "year", "gia_tri": "2019"})
    assert resp.status_code == 200
    text = flat(pdf_text(resp.data))
    assert "Không có phiếu nào khớp với bộ lọc này (Năm 2019)" in text and "IV. KẾT LUẬN" in text


def test_pdf_refuses_another_subtree_and_bad_filters(as_role, data):  # noqa: F811
    reader = as_role("reader")
    assert reader.get("/staff/reports/12001/bao-cao.pdf", query_string=QUARTER).status_code == 403
    bad = reader.get("/staff/reports/11953/bao-cao.pdf", query_string={"ky": "month", "gia_tri": "2025-13"})
    assert bad.status_code == 400 and "2025-03" in bad.get_data(as_text=True)


@pytest.mark.timeout(900)  # four (two) full renders: minutes on a loaded 2-core machine
def test_cli_writes_the_bytes_the_page_gives(as_role, data, runner, tmp_path, app):  # noqa: F811
    reader = as_role("reader")
    for fmt in ("pdf", "xlsx"):
        page = reader.get(f"/staff/reports/11953/bao-cao.{fmt}", query_string=LAND)
        out = tmp_path / f"r.{fmt}"
        result = runner.invoke(args=["report", "export", "--format", fmt, "--unit", "11953", "--period", "quarter",
                                     "--period-value", "2025-Q1", "--field", "dat-dai", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == page.data, fmt
    sheet = load_workbook(io.BytesIO(out.read_bytes()))["Theo lĩnh vực"]
    assert sheet.max_row > 1
    cli = [e for e in audit_rows(app, "export") if e.actor_login == "cli"]
    assert [json.loads(e.detail)["format"] for e in cli] == ["pdf", "xlsx"] and cli[0].target == "report export r.pdf"


@pytest.mark.parametrize("args, says", [
    (["--format", "pdf"], "--unit"),
    (["--format", "pdf", "--unit", "11953", "--period", "quarter", "--period-value", "2025-Q5"], "2025-Q1"),
    (["--format", "xlsx", "--unit", "99999"], "99999"),
    (["--format", "pdf", "--unit", "11953", "--from", "01/01/2025"], "--to"),
    (["--format", "csv"], "--questionnaire"),
])
def test_cli_bad_options_are_one_line_errors(runner, tree, args, says):  # noqa: F811
    result = runner.invoke(args=["report", "export", *args])
    assert result.exit_code != 0 and says in result.output and "Traceback" not in result.output
