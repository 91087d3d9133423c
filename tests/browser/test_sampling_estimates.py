"""The sampled survey's estimates in a real browser: the readers' estimates page, the dashboard
block and the coordinator's draw page (with the estimates block) and a Neyman preview; axe finds nothing."""
from __future__ import annotations

import pytest

from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.sampling.conftest import sample_draws  # noqa: F401
from tests.sampling.test_estimates_pages import answered
from tests.staff.conftest import PASSWORD, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_estimates_pages_pass_axe(live_server, page, tree, sample_draws):  # noqa: F811
    answered(live_server.app, tree.ids["draw_a"], [5, 4, 2])
    page.set_default_timeout(120_000)
    page.set_viewport_size(DESK)
    log_in(page, live_server.url, tree.users["reader"], PASSWORD)
    page.goto(f"{live_server.url}/staff/sampling/draws/{tree.ids['draw_a']}/estimates")
    assert "66,7%" in page.locator("section.sample-estimates").inner_text()
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/staff/reports/11953?ky=custom&tu=01/11/2026&den=30/11/2026")
    assert "Khảo sát chọn mẫu (ước lượng có trọng số)" in page.locator("#sampled").inner_text()
    assert axe_violations(page) == []


def test_draw_page_and_neyman_preview_pass_axe(live_server, page, tree, sample_draws):  # noqa: F811
    page.set_default_timeout(120_000)
    log_in(page, live_server.url, tree.users["coordinator"], PASSWORD)
    page.goto(f"{live_server.url}/staff/sampling/draws/{tree.ids['draw_a']}")
    assert "Chưa có phiếu trả lời nào của mẫu này" in page.content()
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/staff/sampling/11953/design")
    page.locator("#period_start").fill("01/10/2026")
    page.locator("#period_end").fill("31/12/2026")
    page.locator("#allocation").select_option("neyman")
    page.locator("#total").fill("5")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="Xem trước").click()
    assert "dùng 50%" in page.content()
    assert axe_violations(page) == []
