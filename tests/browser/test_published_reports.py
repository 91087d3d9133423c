"""A reader opens the published reports page from the dashboard; axe finds nothing on it, empty
and with a published report listed (stored directly: the rendering is tested in
tests/reporting/test_snapshots.py), on a desk and on a phone; the listed PDF downloads."""
from __future__ import annotations

import hashlib

import pytest

from survey.db import get_session
from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.reporting.published_fixture import store
from tests.staff.conftest import PASSWORD, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_published_reports_page_is_accessible(live_server, page, tree, app, tmp_path):  # noqa: F811
    page.set_default_timeout(120_000)
    page.set_viewport_size(DESK)
    log_in(page, live_server.url, tree.users["reader"], PASSWORD)
    page.goto(f"{live_server.url}/staff/reports/11953?ky=year&gia_tri=2025")
    with page.expect_navigation():
        page.get_by_role("link", name="Công bố báo cáo").click()
    assert page.locator("h1").inner_text().startswith("Báo cáo đã công bố")
    assert "Đơn vị chưa công bố báo cáo nào." in page.content()
    assert axe_violations(page) == [], "empty list"
    with app.app_context():
        session = get_session()
        store(session, tree.commune_a, body=b"%PDF-1.7 frozen")
        session.commit()
    page.reload()
    assert axe_violations(page) == [], "one report listed"
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").first.click()
    path = tmp_path / "r.pdf"
    download.value.save_as(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(b"%PDF-1.7 frozen").hexdigest()
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    assert axe_violations(page) == []
