"""A commune's unit administrator in a real browser: first log-in with a one-time password,
the forced change, a poster for one counter (its QR decodes to that counter's URL), another
commune's counter refused; axe finds nothing on the staff pages, on a phone and a desk screen."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Counter, Unit
from survey.staff import accounts, scope
from tests.qrkit import decode_image, pdf_pages
from tests.staff.conftest import PASSWORD, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]
DESK = {"width": 1366, "height": 768}
AXE_TAGS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}}


def new_commune_admin(app, unit_code: str) -> tuple[str, str]:
    with app.app_context():
        session = get_session()
        user, one_time = accounts.create_user(session, "can.bo.xa", "Nguyễn Thị Cán Bộ")
        scope.grant(session, user, "unit_admin", session.scalars(select(Unit).filter_by(code=unit_code)).one(), None)
        session.commit()
    return user.login, one_time


def log_in(page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/staff/login")
    page.get_by_label("Tên đăng nhập").fill(login)
    page.get_by_label("Mật khẩu", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Đăng nhập").click()


def axe_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_TAGS)
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]]


def test_commune_administrator_first_login_poster_and_refusal(live_server, page, tree, tmp_path):  # noqa: F811
    app = live_server.app
    app.config["PUBLIC_BASE_URL"] = live_server.url
    login, one_time = new_commune_admin(app, tree.commune_a)
    with app.app_context():
        public_code = get_session().get(Counter, tree.counter_a).public_code
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    log_in(page, live_server.url, login, one_time)
    assert page.url.endswith("/staff/password")
    assert page.locator("h1").inner_text() == "Đổi mật khẩu"
    page.get_by_label("Mật khẩu hiện tại").fill(one_time)
    page.get_by_label("Mật khẩu mới", exact=True).fill("matkhau123456")  # too common: refused, said at the top
    page.get_by_label("Nhập lại mật khẩu mới").fill("matkhau123456")
    with page.expect_navigation():
        page.get_by_role("button", name="Lưu mật khẩu mới").click()
    assert "quá phổ biến" in page.locator(".summary").inner_text()
    assert axe_violations(page) == []
    page.get_by_label("Mật khẩu hiện tại").fill(one_time)
    page.get_by_label("Mật khẩu mới", exact=True).fill(PASSWORD)
    page.get_by_label("Nhập lại mật khẩu mới").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Lưu mật khẩu mới").click()
    assert page.url.endswith("/staff/")
    assert "Quản trị đơn vị" in page.content()

    page.get_by_role("link", name="Đơn vị và quầy").first.click()
    page.get_by_role("link", name="Phường Phố Hiến").click()
    page.get_by_role("link", name="MC1").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Áp phích A6 (PDF)").click()
    pdf = tmp_path / "poster.pdf"
    download.value.save_as(pdf)
    decoded = [decode_image(p) for p in pdf_pages(pdf.read_bytes(), scale=1.5)]
    assert decoded == [[f"{live_server.url}/c/{public_code}"]]

    refused = page.goto(f"{live_server.url}/staff/counters/{tree.counter_b}")
    assert refused.status == 403
    assert page.locator("h1").inner_text() == "Không có quyền truy cập"
    assert all(r.startswith((live_server.url, "data:")) for r in page.requests)
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors  # nothing inline


@pytest.mark.parametrize("viewport", [None, DESK], ids=["phone", "desk"])
def test_staff_pages_pass_axe(live_server, page, tree, viewport):  # noqa: F811
    if viewport:
        page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/staff/login")
    assert axe_violations(page) == []
    log_in(page, live_server.url, tree.users["unit_admin"], "not the password at all")
    assert page.locator(".summary").is_visible() and axe_violations(page) == []
    log_in(page, live_server.url, tree.users["unit_admin"], PASSWORD)
    for path in ("/staff/", "/staff/units", f"/staff/units/{tree.commune_a}", f"/staff/counters/{tree.counter_a}"):
        page.goto(f"{live_server.url}{path}")
        assert axe_violations(page) == [], path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= (viewport or {"width": 360})["width"], (path, width)  # no sideways scrolling


def test_administrator_pages_pass_axe(live_server, page, tree):  # noqa: F811
    page.set_viewport_size(DESK)
    log_in(page, live_server.url, tree.users["system_admin"], PASSWORD)
    for path in ("/staff/users", f"/staff/users/{tree.ids['reader']}", "/staff/users/new", "/staff/audit", "/staff/questionnaires"):
        page.goto(f"{live_server.url}{path}")
        assert axe_violations(page) == [], path
