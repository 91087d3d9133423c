"""A reader in a real browser counts the anonymised microdata of a questionnaire, downloads the
CSV from the page's form and reads it back; axe finds nothing on the page (empty and counted
states), on a desk and on a phone."""
from __future__ import annotations

import pytest

from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.reporting.test_microdata import HEADER, KEY, data, read_csv  # noqa: F401  (fixture: three responses)
from tests.staff.conftest import PASSWORD, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_reader_counts_and_downloads_microdata(live_server, page, tree, data, tmp_path):  # noqa: F811
    page.set_default_timeout(120_000)
    page.set_viewport_size(DESK)
    log_in(page, live_server.url, tree.users["reader"], PASSWORD)
    page.goto(f"{live_server.url}/staff/reports/11953?ky=year&gia_tri=2025")
    with page.expect_navigation():
        page.get_by_role("link", name="Dữ liệu vi mô (đã ẩn danh)").click()
    assert page.locator("h1").inner_text().startswith("Dữ liệu vi mô")
    assert axe_violations(page) == [], "before a questionnaire is chosen"
    page.get_by_label("Phiếu khảo sát").select_option(KEY)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="Đếm số phiếu").click()
    assert "1 phiếu phù hợp" in page.locator("#so-phieu").inner_text()
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("button", name="Tải dữ liệu").click()
    path = tmp_path / "vi-mo.csv"
    download.value.save_as(path)
    rows = read_csv(path.read_bytes())
    assert list(rows[0]) == HEADER and [(r["unit"], r["q1"]) for r in rows] == [("11953", "5")]
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/staff/reports/11953/du-lieu-vi-mo?phieu={KEY}&ky=year&gia_tri=2024")
    assert "0 phiếu phù hợp" in page.locator("#so-phieu").inner_text()
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
