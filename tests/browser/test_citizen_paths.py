"""Paths a new user took in real chromium (issue #11): Back after sending, a form left open until
its session expired, error pages and the error summary, readable scale labels on a phone."""
from __future__ import annotations

from pathlib import Path

import pytest

from questionnaires.loader import load_file

from tests.browser.test_citizen_form import stored_responses
from tests.browser.test_https import answer_every_visible_question

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]

FORM = "/q/sipas-local"
NOTICE = "Thiết bị này vừa gửi một phiếu đánh giá tại đây"


def axe_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
    return [(v["id"], v["help"], len(v["nodes"])) for v in results.response["violations"]]


def fill_with_feedback(page) -> None:
    page.locator("input[name=gave_feedback][value='1']").check()  # "Đã từng": reveals feedback_3/4
    answer_every_visible_question(page)
    page.locator("input[name=gave_feedback][value='1']").check()


def test_back_after_sending_restores_the_form_as_it_was_and_stores_nothing_twice(live_server, page):
    page.goto(f"{live_server.url}{FORM}")
    fill_with_feedback(page)
    ticket = page.locator("input[name=submission_id]").input_value()
    page.locator("button.send").click()
    page.wait_for_url("**/cam-on")
    page.go_back()
    page.wait_for_load_state()
    restored = page.locator("input[name=submission_id]").input_value()
    if restored == ticket:  # the back-forward cache gave the same render back
        assert page.locator("input[name=gave_feedback][value='1']").is_checked()
        assert page.locator("#item-feedback_3").is_visible(), "the follow-up of a restored 'Có' is shown again"
        assert page.locator("button.send").is_enabled()
        page.locator("button.send").click()
        page.wait_for_url("**/cam-on")
        assert len(stored_responses(live_server.app)) == 1, "the same render sent again stores nothing new"
    else:  # a fresh render: it says this phone has just answered, before anything is typed
        assert NOTICE in page.content()
        fill_with_feedback(page)
        assert page.locator("#item-feedback_3").is_visible()
    assert axe_violations(page) == []


def test_a_returning_device_is_told_it_just_answered(live_server, page):
    page.goto(f"{live_server.url}{FORM}")
    fill_with_feedback(page)
    page.locator("button.send").click()
    page.wait_for_url("**/cam-on")
    page.goto(f"{live_server.url}{FORM}")
    assert NOTICE in page.content()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Tôi đã đánh giá xong").click()
    page.wait_for_url("**/cam-on")
    assert len(stored_responses(live_server.app)) == 1


def test_a_form_whose_session_expired_keeps_every_answer(live_server, page):
    live_server.app.config["WTF_CSRF_ENABLED"] = True
    page.goto(f"{live_server.url}{FORM}")
    fill_with_feedback(page)
    page.locator("textarea").first.fill("Cán bộ tận tình")
    page.context.clear_cookies()  # the session (and its CSRF token) is gone, as after a long pause
    page.locator("button.send").click()
    page.wait_for_load_state()
    assert "Phiên làm việc đã hết hạn nên phiếu chưa được gửi" in page.content()
    assert page.locator("input[name=gave_feedback][value='1']").is_checked()
    assert page.locator("textarea").first.input_value() == "Cán bộ tận tình"
    assert page.locator("#item-feedback_3").is_visible()
    assert stored_responses(live_server.app) == []
    assert axe_violations(page) == []
    page.locator("button.send").click()
    page.wait_for_url("**/cam-on")
    assert len(stored_responses(live_server.app)) == 1


def test_error_summary_link_moves_focus_to_the_first_answer(live_server, page):
    page.goto(f"{live_server.url}{FORM}")
    page.locator("button.send").click()
    page.locator("#error-summary").wait_for()
    first = page.locator("#error-summary a").first
    target = first.get_attribute("href").lstrip("#")
    first.click()
    focused = page.evaluate("() => [document.activeElement.tagName, document.activeElement.closest('.item')?.id]")
    assert focused == ["INPUT", f"item-{target}"], focused


def test_error_pages_lead_somewhere(live_server, page):
    page.goto(f"{live_server.url}/q/khong-co")
    page.get_by_role("link", name="Về trang chủ khảo sát").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").count() == 1


def test_scale_labels_are_readable_on_a_phone_without_sideways_scrolling(live_server, page):
    for path in (FORM, f"{FORM}?lang=en", "/q/counter-quick"):
        page.goto(f"{live_server.url}{path}")
        sizes = page.eval_on_selector_all(".scale .opt span", "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
        assert sizes and min(sizes) >= 16, (path, min(sizes))
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
        labels = page.eval_on_selector_all(".scale .opt span", "els => els.map(e => e.scrollWidth - e.clientWidth)")
        assert max(labels) <= 0, f"{path}: a label is cut off"


def test_progress_counts_the_questions_that_apply_and_empty_parts_disappear(live_server, page):
    page.goto(f"{live_server.url}/q/sipas-2023")
    bar = page.locator("#progress")
    assert bar.is_visible() and bar.inner_text() == "Đã trả lời 0/53 câu"
    assert page.locator("section[aria-labelledby=sec-access]").is_hidden(), "Câu 8 not answered yet: no empty heading"
    page.locator("input[name=c8_4][value='1']").check()  # used the service: its questions apply
    assert page.locator("section[aria-labelledby=sec-access]").is_visible()
    q = load_file(Path("questionnaires/sipas-2023.yaml"))
    applies = sum(1 for i in q.items if i.show_if is None or (i.show_if.item == "c8_4" and 1 in i.show_if.codes))
    assert applies > 53
    assert bar.inner_text() == f"Đã trả lời 1/{applies} câu"
    page.locator("input[name=c9_15]").first.check()
    assert bar.inner_text() == f"Đã trả lời 2/{applies} câu"
    assert axe_violations(page) == []
