"""A coordinator keys two returned paper forms with the keyboard only (entry.js: a digit sets the
answer and moves on) and sees the response rate change; axe finds nothing on the entry page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Response, SampleMember
from tests.browser.test_staff import DESK, axe_violations, log_in
from tests.sampling.conftest import sample_draws  # noqa: F401
from tests.staff.conftest import PASSWORD, as_role, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]
# counter-quick in order: (a) 1 shows e1; "no" to the petition and online filters hides (g) and (h)
DIGITS = "1114444222"


def key_form(page, code: str) -> None:
    page.get_by_label("Mã người trả lời").focus()
    page.keyboard.type(code)
    page.keyboard.press("Enter")  # to the first question, not a submit
    for digit in DIGITS:
        page.keyboard.press(digit)
    assert page.evaluate("document.activeElement.id") == "f-comment"  # the filters' follow-ups were skipped
    page.keyboard.press("Tab")  # no comment
    page.keyboard.press("5")  # overall; focus moves to the save button
    assert page.evaluate("document.activeElement.type") == "submit"
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_two_paper_forms_keyed_by_keyboard(live_server, page, tree, sample_draws):  # noqa: F811
    page.set_viewport_size(DESK)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    draw_id = tree.ids["draw_a"]
    with live_server.app.app_context():
        codes = get_session().scalars(select(SampleMember.respondent_code).where(
            SampleMember.draw_id == draw_id, SampleMember.selected.is_(True)).order_by(SampleMember.respondent_code)).all()
    log_in(page, live_server.url, tree.users["coordinator"], PASSWORD)
    page.goto(f"{live_server.url}/staff/sampling/draws/{draw_id}")
    with page.expect_navigation():
        page.get_by_role("link", name="Nhập phiếu giấy đã thu về").click()
    assert page.locator("#progress").inner_text().startswith("Đã trả lời 0/5")
    assert axe_violations(page) == []
    key_form(page, codes[0])
    assert f"{codes[0]}: đã lưu phiếu giấy." in page.locator(".flashes").inner_text()
    assert page.locator("#progress").inner_text().startswith("Đã trả lời 1/5")
    key_form(page, codes[1].lower())
    assert page.locator("#progress").inner_text() == "Đã trả lời 2/5 người trong thực địa (RR1 40,0%)."
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/staff/sampling/draws/{draw_id}")
    assert "40,0%" in page.locator("#rates-caption").locator("xpath=..").inner_text()
    with live_server.app.app_context():
        stored = get_session().scalars(select(Response)).all()
        assert [(r.channel, r.source) for r in stored] == [("paper", "sample")] * 2
        answered = {a.item_key: a.code for a in stored[0].answers}
    assert answered["overall"] == 5 and answered["result_legal"] == 4 and "petition_response" not in answered
    assert not [m for m in errors if "Content Security Policy" in m]


def test_settle_recheck_and_phone_pages_pass_axe(live_server, page, tree, sample_draws):  # noqa: F811
    from survey.sampling import entry, recheck

    page.set_viewport_size(DESK)
    draw_id = tree.ids["draw_a"]
    with live_server.app.app_context():
        s = get_session()
        form = entry.published(s, "counter-quick")
        first, second, third = s.scalars(select(SampleMember).where(
            SampleMember.draw_id == draw_id, SampleMember.selected.is_(True)).order_by(SampleMember.respondent_code)).all()[:3]
        answers = {"result_time": 1, "agencies_contacted": 1, "extra_contacts": 1, "info_published": 4, "staff_attitude": 4,
                   "result_legal": 4, "costs_legal": 4, "extra_charges": 2, "lodged_petition": 2, "used_online": 2,
                   "comment": None, "overall": 5}
        entry.store_response(s, form, first, answers, channel="paper", login="a", idempotency_key="k" * 53)
        entry.set_double_entry(s, draw_id, True, "a")
        entry.key_paper(s, form, second, answers, login="a", idempotency_key="x")
        assert entry.key_paper(s, form, second, {**answers, "overall": 3}, login="b", idempotency_key="y").kind == "disagree"
        recheck.draw(s, draw_id, "1", "axe", "a")
        s.commit()
        code, phone_code = second.respondent_code, third.respondent_code
    log_in(page, live_server.url, tree.users["coordinator"], PASSWORD)
    page.goto(f"{live_server.url}/staff/sampling/draws/{draw_id}/entry")
    with page.expect_navigation():
        page.get_by_role("link", name="1 phiếu đang chờ đối chiếu").click()
    with page.expect_navigation():
        page.get_by_role("link", name=code).click()
    assert page.locator("tbody tr").count() == 1 and "Lần 1: 5 – " in page.locator("#item-overall").inner_text()
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/staff/sampling/draws/{draw_id}/recheck")
    assert page.locator("tbody tr").count() == 1
    assert axe_violations(page) == []
    page.goto(f"{live_server.url}/staff/sampling/draws/{draw_id}")
    with page.expect_navigation():
        page.get_by_role("link", name=phone_code).click()
    assert "0912000000" in page.content()
    assert axe_violations(page) == []
