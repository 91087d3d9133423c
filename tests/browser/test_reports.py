"""A reader in a real browser: from the start page to the dashboard, filtered to đất đai for a
quarter, the verdict with its target's source, the comments (masked), the Excel download holding
the page's number; axe finds nothing on the dashboard and the comments, on a phone and a desk."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.staff.conftest import PASSWORD, tree  # noqa: F401
from tests.staff.test_reports_pages import seed_commune

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_reader_filters_reads_the_verdict_and_downloads_the_workbook(live_server, page, tree, tmp_path):  # noqa: F811
    seed_commune(live_server.app)
    page.set_default_timeout(120_000)  # a dashboard and its two charts on a shared 2-core machine
    page.set_viewport_size(DESK)
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_server.url, tree.users["reader"], PASSWORD)
    page.get_by_role("link", name="Báo cáo mức độ hài lòng", exact=False).first.click()
    page.get_by_label("Loại kỳ").select_option("quarter")
    page.get_by_label("Kỳ (2025-03, 2025-Q1 hoặc 2025)").fill("2025-Q1")
    page.get_by_label("Lĩnh vực").select_option("dat-dai")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="Xem báo cáo").click()
    assert "Quý I/2025" in page.locator("h1").inner_text()
    row = page.locator("#fields-caption").locator("xpath=..").locator("tbody tr").first
    assert "Đất đai" in row.inner_text()
    verdict = row.locator(".verdict").inner_text()
    assert verdict in ("Đạt", "Không đạt", "Chưa đủ cơ sở kết luận", "Chưa đủ dữ liệu")
    row.get_by_text("Nguồn chỉ tiêu").click()
    assert "76/NQ-CP" in row.locator("details").inner_text()
    shown_pct = row.locator("td").nth(3).inner_text()  # 62,5%
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải bảng tính Excel").click()
    path = tmp_path / "bao-cao.xlsx"
    download.value.save_as(path)
    ws = load_workbook(io.BytesIO(path.read_bytes()))["Theo lĩnh vực"]
    first = [c.value for c in ws[2]]
    assert f"{100 * first[6]:.1f}%".replace(".", ",") == shown_pct and first[12] == verdict
    with page.expect_navigation():
        page.get_by_role("link", name="Ý kiến của người dân").click()
    assert page.locator("h1").inner_text().startswith("Ý kiến của người dân")
    assert axe_violations(page) == []
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_reports_pages_pass_axe_on_a_phone(live_server, page, tree):  # noqa: F811
    seed_commune(live_server.app)
    page.set_default_timeout(120_000)
    log_in(page, live_server.url, tree.users["reader"], PASSWORD)
    for path in ("/staff/reports/11953?ky=quarter&gia_tri=2025-Q1", "/staff/reports/11953?ky=year&gia_tri=2019",
                 "/staff/reports/11953/comments?ky=quarter&gia_tri=2025-Q1"):
        page.goto(f"{live_server.url}{path}")
        assert axe_violations(page) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
