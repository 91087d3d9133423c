"""Published reports are frozen: publishing stores the PDF, XLSX and figures once; downloads give
those bytes (same sha256) after new responses arrive, while a fresh report would differ; a
correction is version 2 linking version 1; nothing edits or deletes a stored report (the ORM
refuses, and no route but the publish POST writes under /cong-bo); publication and downloads
are audited."""
from __future__ import annotations

import hashlib
import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from survey.db import get_session
from survey.models import PublishedReport
from tests.reporting.published_fixture import store
from tests.reporting.test_pdf_report import pdf_text
from tests.reporting.test_reports import insert, random_row
from tests.staff.conftest import as_role, audit_rows, csrf_token, tree  # noqa: F401  (fixtures)
from tests.staff.test_reports_pages import QUARTER, satisfied, seed_commune

LAND = {**QUARTER, "linh_vuc": "dat-dai"}


def publish(client, note: str = "", confirm: bool = True, number: str = "07/BC-UBND"):
    page = client.get("/staff/reports/11953/cong-bo", query_string=LAND)
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "number": number, "note": note}
    if confirm:
        data["confirm"] = "y"
    return client.post("/staff/reports/11953/cong-bo", query_string=LAND, data=data)


def stored(app) -> list[PublishedReport]:
    with app.app_context():
        return list(get_session().scalars(select(PublishedReport).order_by(PublishedReport.id)))


def more_land_responses(app, n: int = 120) -> None:
    rng = random.Random(99)
    rows = []
    for _ in range(n):
        r = random_row(rng, datetime(2025, 2, 1, 3, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 20 * 24 * 3600)))
        r.unit, r.field, r.source, r.flags = "11953", "dat-dai", "feedback", []
        r.answers["overall"] = 1  # all dissatisfied: the land figure must move
        rows.append(r)
    with app.app_context():
        insert(get_session(), rows)
        get_session().commit()


@pytest.mark.timeout(900)  # four (two) full renders: minutes on a loaded 2-core machine
def test_published_report_downloads_byte_identical_after_new_responses(as_role, tree, app):  # noqa: F811
    data = seed_commune(app)
    reader = as_role("reader")
    resp = publish(reader)
    assert resp.status_code == 302
    [report] = stored(app)
    assert report.version == 1 and report.corrects_id is None and report.number == "07/BC-UBND"
    assert report.published_by_login == tree.users["reader"]
    assert report.pdf_sha256 == hashlib.sha256(report.pdf).hexdigest()
    figures = json.loads(report.figures)
    rows = [r for r in data if r.unit == "11953" and r.field == "dat-dai" and r.source == "feedback" and not r.flags]
    x, n = satisfied(rows)
    land = next(f for f in figures["fields"] if f["source"] == "feedback" and f["field"] == "dat-dai")
    assert land["current"]["n"] == n and land["current"]["pct"] == pytest.approx(100 * x / n)
    assert json.loads(report.filters)["since"] == "2025-01-01"
    assert "Số: 07/BC-UBND" in pdf_text(report.pdf)

    first_pdf = reader.get(f"/staff/reports/11953/cong-bo/{report.id}.pdf")
    first_xlsx = reader.get(f"/staff/reports/11953/cong-bo/{report.id}.xlsx")
    assert hashlib.sha256(first_pdf.data).hexdigest() == report.pdf_sha256
    assert hashlib.sha256(first_xlsx.data).hexdigest() == report.xlsx_sha256

    more_land_responses(app)
    live = reader.get("/staff/reports/11953/bao-cao.xlsx", query_string=LAND)
    assert hashlib.sha256(live.data).hexdigest() != report.xlsx_sha256, "the live report moved with the new data"
    again_pdf = reader.get(f"/staff/reports/11953/cong-bo/{report.id}.pdf")
    again_xlsx = reader.get(f"/staff/reports/11953/cong-bo/{report.id}.xlsx")
    assert again_pdf.data == first_pdf.data and again_xlsx.data == first_xlsx.data
    assert hashlib.sha256(again_pdf.data).hexdigest() == report.pdf_sha256
    sheet = load_workbook(io.BytesIO(again_xlsx.data))["Theo lĩnh vực"]
    header = [c.value for c in sheet[1]]
    line = next(dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)
                if row[header.index("Mã lĩnh vực")].value == "dat-dai"
                and row[header.index("Nguồn")].value == "Góp ý tại quầy (tự nguyện)")
    assert line["n"] == n, "the frozen workbook still holds the figures at publication"

    published = [e for e in audit_rows(app, "report_published")]
    downloads = audit_rows(app, "published_report_downloaded")
    assert len(published) == 1 and json.loads(published[0].detail)["pdf_sha256"] == report.pdf_sha256
    assert len(downloads) == 4 and {d.target.rsplit(".", 1)[1] for d in downloads} == {"pdf", "xlsx"}

    # a correction: refused without saying what it corrects, then version 2 linking version 1
    refused = publish(reader)
    assert refused.status_code == 400 and "đính chính" in refused.get_data(as_text=True)
    assert publish(reader, note="Bổ sung phiếu giấy nhập muộn").status_code == 302
    first, second = stored(app)
    assert (second.version, second.corrects_id, second.report_key) == (2, first.id, first.report_key)
    assert second.pdf_sha256 != first.pdf_sha256 and first.pdf_sha256 == report.pdf_sha256
    listing = reader.get("/staff/reports/11953/cong-bo", query_string=LAND).get_data(as_text=True)
    assert "đính chính phiên bản 1" in listing and first.pdf_sha256 in listing and second.pdf_sha256 in listing
    document = json.loads(reader.get(f"/staff/reports/11953/cong-bo/{second.id}.json").data)
    assert document["version"] == 2 and document["corrects"] == first.id and document["pdf_sha256"] == second.pdf_sha256


def test_publishing_needs_the_confirmation_box(as_role, tree, app):  # noqa: F811
    resp = publish(as_role("reader"), confirm=False)
    assert resp.status_code == 400 and "xác nhận" in resp.get_data(as_text=True)
    assert stored(app) == []


def test_a_stored_report_cannot_be_changed_or_deleted(app, tree):  # noqa: F811
    with app.app_context():
        session = get_session()
        report = session.get(PublishedReport, store(session, tree.commune_a))
        session.commit()
        report.pdf = b"%PDF forged"
        with pytest.raises(PermissionError):
            session.flush()
        session.rollback()
        session.delete(session.get(PublishedReport, report.id))
        with pytest.raises(PermissionError):
            session.flush()
        session.rollback()


def test_no_route_edits_or_deletes_a_published_report(app):
    writes = [(rule.rule, sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})) for rule in app.url_map.iter_rules()
              if "/cong-bo" in rule.rule and rule.methods - {"GET", "HEAD", "OPTIONS"}]
    assert writes == [("/staff/reports/<code>/cong-bo", ["POST"])], "only publishing writes, and it names no report"


def test_a_report_of_another_unit_is_not_found_under_this_unit(as_role, tree, app):  # noqa: F811
    with app.app_context():
        session = get_session()
        other = store(session, tree.commune_b)
        session.commit()
    assert as_role("reader").get(f"/staff/reports/11953/cong-bo/{other}.pdf").status_code == 404
    assert as_role("reader").get(f"/staff/reports/12001/cong-bo/{other}.pdf").status_code == 403
