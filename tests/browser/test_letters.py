"""A coordinator in a real browser downloads a draw's invitation letters and a paper form; the
letter's QR code, read with zbar from the printed page, opens the person's form in the browser;
axe finds nothing on the draw page with its letters section."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.qrkit import decode_image, pdf_pages
from tests.sampling.conftest import sample_draws  # noqa: F401  (fixture)
from tests.staff.conftest import PASSWORD, as_role, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_coordinator_downloads_letters_and_the_letters_qr_opens_the_form(live_server, page, tree, sample_draws):  # noqa: F811
    live_server.app.config["PUBLIC_BASE_URL"] = live_server.url
    page.set_viewport_size(DESK)
    log_in(page, live_server.url, tree.users["coordinator"], PASSWORD)
    page.goto(f"{live_server.url}/staff/sampling/draws/{tree.ids['draw_a']}")
    assert page.get_by_role("heading", name="Thư mời và phiếu giấy").is_visible()
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải thư mời (PDF, A4), mỗi người một trang có mã QR riêng").click()
    data = Path(download.value.path()).read_bytes()
    urls = [decode_image(p) for p in pdf_pages(data, scale=1.5)]
    assert len(urls) == 5 and all(len(u) == 1 and u[0].startswith(f"{live_server.url}/m/M") for u in urls)
    with page.expect_download() as paper:
        page.get_by_role("link", name="Tải phiếu khảo sát giấy (PDF), in mã người trả lời và mã QR trên mỗi trang").click()
    assert Path(paper.value.path()).read_bytes().startswith(b"%PDF")
    page.goto(urls[0][0])
    assert "/d/" in page.url and page.locator("form").count() >= 1
    assert page.get_by_role("button", name="Gửi phiếu").is_visible()
