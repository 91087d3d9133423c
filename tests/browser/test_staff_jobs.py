"""In a real browser: a commune administrator starts a background poster job, watches the page
update itself (external script, no inline code, no meta refresh) until the download appears, and
the PDF's QR decodes; he moves a unit and creates an account in his subtree. axe finds nothing on
the job page (running and done), the unit page with its forms, and the account pages."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Counter, Unit
from survey.registry import units
from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.qrkit import decode_image, pdf_pages
from tests.staff.conftest import PASSWORD, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_poster_job_progress_download_and_axe(live_server, page, tree, tmp_path):  # noqa: F811
    app = live_server.app
    app.config.update(PUBLIC_BASE_URL=live_server.url, STAFF_POSTER_JOB_CHUNK=1)
    with app.app_context():
        public_code = get_session().get(Counter, tree.counter_a).public_code
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size(DESK)
    log_in(page, live_server.url, tree.users["unit_admin"], PASSWORD)
    page.goto(f"{live_server.url}/staff/units/{tree.commune_a}")
    assert axe_violations(page) == []
    with page.expect_navigation():
        page.get_by_role("button", name="Tạo PDF trong nền (xem tiến độ)").click()
    assert "/staff/poster-jobs/" in page.url
    assert axe_violations(page) == []
    link = page.get_by_role("link", name="Tải PDF (1 trang)")
    link.wait_for(timeout=90_000)  # the script swaps the status in: no reload, no meta refresh
    assert page.locator("#job-state").inner_text() == "Đã xong"
    assert axe_violations(page) == []
    with page.expect_download() as download:
        link.click()
    pdf = tmp_path / "posters.pdf"
    download.value.save_as(pdf)
    assert [decode_image(p) for p in pdf_pages(pdf.read_bytes(), scale=1.5)] == [[f"{live_server.url}/c/{public_code}"]]
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_unit_move_and_account_pages_of_a_unit_administrator(live_server, page, tree):  # noqa: F811
    app = live_server.app
    with app.app_context():
        session = get_session()
        a = session.scalar(select(Unit).where(Unit.code == tree.commune_a))
        units.add_unit(session, "A1", "Điểm tiếp nhận A1", "other", a)
        units.add_unit(session, "A2", "Điểm tiếp nhận A2", "other", a)
        session.commit()
    page.set_viewport_size(DESK)
    log_in(page, live_server.url, tree.users["unit_admin"], PASSWORD)
    page.goto(f"{live_server.url}/staff/units/A2")
    page.get_by_text("Chuyển sang đơn vị cấp trên khác").click()
    page.get_by_label("Đơn vị cấp trên mới").select_option("A1")
    with page.expect_navigation():
        page.get_by_role("button", name="Chuyển đơn vị").click()
    assert "sang trực thuộc Điểm tiếp nhận A1" in page.locator(".flashes").inner_text()
    for path in ("/staff/users", f"/staff/users/{tree.ids['victim']}", "/staff/users/new"):
        page.goto(f"{live_server.url}{path}")
        assert axe_violations(page) == [], path
    page.get_by_label("Tên đăng nhập").fill("can.bo.moi")
    page.get_by_label("Họ và tên").fill("Cán bộ Mới")
    page.get_by_label("Vai trò đầu tiên").select_option("reader")
    page.get_by_label("Mã đơn vị").fill("12001")  # another commune: refused, said at the top
    with page.expect_navigation():
        page.get_by_role("button", name="Tạo tài khoản").click()
    assert "trong phạm vi bạn quản lý" in page.locator(".summary").inner_text()
    assert axe_violations(page) == []
