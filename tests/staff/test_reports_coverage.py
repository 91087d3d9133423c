"""Coverage and the procedure filter as a reader sees them: the page's field table, the workbook's
field sheet and the PDF's table, against ratios and n counted here from the inserted rows."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from survey.db import get_session
from survey.i18n import format_pct
from survey.models import Field, FrameDossier, FrameImport, Procedure, Response, Unit
from tests.reporting.test_pdf_report import pdf_text
from tests.staff.test_reports_pages import QUARTER, satisfied, seed_commune

DOSSIERS = 200  # land dossiers of commune 11953 completed in the first quarter of 2025


@pytest.fixture
def world(app, tree):
    """seed_commune's responses, procedure DD-01 on every other land response, and 11953's land dossiers."""
    rows = seed_commune(app)
    with app.app_context():
        session = get_session()
        unit = session.scalar(select(Unit).where(Unit.code == "11953"))
        fields = {f.code: f.id for f in session.scalars(select(Field))}
        procedure = Procedure(code="DD-01", name_vi="Cấp đổi giấy chứng nhận", field_id=fields["dat-dai"])
        session.add(procedure)
        session.flush()
        tagged = {r.id for r in rows if r.field == "dat-dai" and r.id % 2 == 0}
        session.execute(update(Response).where(Response.id.in_(tagged)).values(procedure_id=procedure.id))
        batch = FrameImport(unit_id=unit.id, source="test", filename="ho-so.csv", file_sha256="0" * 64)
        session.add(batch)
        session.flush()
        for i in range(DOSSIERS):
            session.add(FrameDossier(dossier_code=f"HS-{i:04d}", unit_id=unit.id, field_id=fields["dat-dai"],
                                     completed_on=date(2025, 1 + i % 3, 10), procedure="DD-01" if i % 4 else None,
                                     import_id=batch.id))
        session.commit()
    return rows, tagged


def land_feedback(rows, ids=None):
    return satisfied([r for r in rows if r.unit == "11953" and r.field == "dat-dai" and r.source == "feedback"
                      and not r.flags and (ids is None or r.id in ids)])


def field_sheet(resp) -> list[dict]:
    ws = load_workbook(io.BytesIO(resp.data))["Theo lĩnh vực"]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, [c.value for c in row])) for row in ws.iter_rows(min_row=2)]


def test_page_shows_coverage_and_says_where_it_is_unknown(as_role, world, app):
    rows, _tagged = world
    html = as_role("reader").get("/staff/reports/11953", query_string=QUARTER).get_data(as_text=True)
    _x, n = land_feedback(rows)
    with app.test_request_context():
        shown = format_pct(100 * n / DOSSIERS)
    assert "Độ bao phủ (phiếu ÷ hồ sơ)" in html and shown in html and f"{n} / {DOSSIERS} hồ sơ" in html
    assert "Chưa có số liệu hồ sơ" in html, "tư pháp – hộ tịch has no imported dossiers"
    assert "khung mẫu" in html, "the method note says where the dossier counts come from"
    assert '<option value="DD-01">' in html, "the procedure filter offers the registry's procedures"


def test_workbook_field_sheet_and_the_procedure_filter(as_role, world):
    rows, tagged = world
    reader = as_role("reader")
    table = field_sheet(reader.get("/staff/reports/11953/bao-cao.xlsx", query_string=QUARTER))
    land = next(t for t in table if t["Mã lĩnh vực"] == "dat-dai" and t["Nguồn"] == "Góp ý tại quầy (tự nguyện)")
    _x, n = land_feedback(rows)
    assert (land["Số hồ sơ đã giải quyết"], land["Độ bao phủ (phiếu ÷ hồ sơ)"]) == (DOSSIERS, pytest.approx(n / DOSSIERS))
    civil = next(t for t in table if t["Mã lĩnh vực"] == "tu-phap-ho-tich" and t["Nguồn"] == "Góp ý tại quầy (tự nguyện)")
    assert civil["Độ bao phủ (phiếu ÷ hồ sơ)"] == "Chưa có số liệu hồ sơ"
    sample = next(t for t in table if t["Nguồn"] == "Khảo sát chọn mẫu")
    assert sample["Độ bao phủ (phiếu ÷ hồ sơ)"] is None, "the sample is never given coverage"

    narrowed = field_sheet(reader.get("/staff/reports/11953/bao-cao.xlsx", query_string={**QUARTER, "thu_tuc": "DD-01"}))
    land = next(t for t in narrowed if t["Mã lĩnh vực"] == "dat-dai" and t["Nguồn"] == "Góp ý tại quầy (tự nguyện)")
    x, n_proc = land_feedback(rows, tagged)
    assert 0 < n_proc < n and land["n"] == n_proc and land["% hài lòng"] == pytest.approx(x / n_proc)
    procedure_dossiers = sum(1 for i in range(DOSSIERS) if i % 4)
    assert land["Số hồ sơ đã giải quyết"] == procedure_dossiers
    assert not [t for t in narrowed if t["Mã lĩnh vực"] == "tu-phap-ho-tich"], "DD-01 is a land procedure"
    for path in ("/staff/reports/11953", "/staff/reports/11953/bao-cao.xlsx"):  # an unknown code: a 400 naming it
        resp = reader.get(path, query_string={**QUARTER, "thu_tuc": "KHONG-CO"})
        assert resp.status_code == 400 and "KHONG-CO" in resp.get_data(as_text=True)


def test_pdf_field_table_has_the_coverage_column_and_note(as_role, world, app):
    rows, _tagged = world
    resp = as_role("reader").get("/staff/reports/11953/bao-cao.pdf", query_string=QUARTER)
    assert resp.status_code == 200
    text = " ".join(pdf_text(resp.data).split())
    _x, n = land_feedback(rows)
    with app.test_request_context():
        shown = format_pct(100 * n / DOSSIERS)
    assert "Độ bao phủ" in text and f"{shown} ({n} / {DOSSIERS} hồ sơ)" in text and "Chưa có số liệu hồ sơ" in text
    assert "khung mẫu" in text


def test_cli_report_export_takes_the_procedure_filter(world, runner, tmp_path):
    rows, tagged = world
    out = tmp_path / "bao-cao.xlsx"
    result = runner.invoke(args=["report", "export", "--format", "xlsx", "--unit", "11953", "--period", "quarter",
                                 "--period-value", "2025-Q1", "--procedure", "DD-01", "--out", str(out)])
    assert result.exit_code == 0, result.output

    class Sent:
        data = out.read_bytes()
    land = next(t for t in field_sheet(Sent) if t["Mã lĩnh vực"] == "dat-dai" and t["Nguồn"] == "Góp ý tại quầy (tự nguyện)")
    assert land["n"] == land_feedback(rows, tagged)[1]
    bad = runner.invoke(args=["report", "export", "--format", "xlsx", "--unit", "11953", "--procedure", "KHONG-CO"])
    assert bad.exit_code != 0 and "KHONG-CO" in bad.output and "Traceback" not in bad.output
