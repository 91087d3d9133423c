"""A citizen on a 360 px phone, in real chromium: keyboard only, accessible, nothing third-party."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Response

# The write path is tested on both databases elsewhere; the browser adds nothing on PostgreSQL.
pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def stored_responses(app) -> list[Response]:
    with app.app_context():
        rows = list(get_session().scalars(select(Response)))
        for r in rows:
            _ = r.answers
        return rows


def focused(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {tag: e.tagName, type: e.type || '', name: e.name || '', value: e.value || '',
                item: (e.closest('[data-type]') || {}).dataset?.type || ''}; }""")


def test_sipas_form_completed_with_keyboard_only(live_server, page):
    page.goto(f"{live_server.url}/q/sipas-local")
    groups_done: set[str] = set()
    for _ in range(400):  # bounded: the form has ~40 tab stops
        page.keyboard.press("Tab")
        el = focused(page)
        if el["tag"] == "INPUT" and el["type"] == "radio" and el["name"] not in groups_done:
            groups_done.add(el["name"])
            if el["name"] == "gave_feedback":
                page.keyboard.press("Space")  # "Đã từng": reveals the two follow-up criteria
            elif el["name"] in ("gender", "age_band", "ethnicity", "education", "occupation", "area"):
                page.keyboard.press("ArrowDown")  # second option
            else:
                for _ in range(3):  # 1 → 4 "Hài lòng": arrows move and select within a radio group
                    page.keyboard.press("ArrowRight")
        elif el["tag"] == "TEXTAREA":
            page.keyboard.type("Cán bộ hướng dẫn tận tình")
        elif el["tag"] == "BUTTON":
            page.keyboard.press("Enter")
            break
    page.wait_for_url("**/cam-on")
    assert "Cảm ơn Ông/Bà" in page.content()
    [r] = stored_responses(live_server.app)
    codes = {a.item_key: a.code for a in r.answers if a.code is not None}
    criteria = [k for k in codes if k.split("_")[0] in ("access", "procedure", "staff", "result", "feedback") and k[-1].isdigit()]
    assert len(criteria) == 22, sorted(codes)
    assert all(codes[k] == 4 for k in criteria)
    assert codes["gave_feedback"] == 1 and codes["overall"] == 4 and codes["gender"] == 2
    assert {a.item_key: a.text for a in r.answers if a.text}["comment"] == "Cán bộ hướng dẫn tận tình"
    hosts = {urlparse(u).hostname for u in page.requests}
    assert hosts == {"127.0.0.1"}, f"third-party requests: {hosts}"


def test_conditional_items_follow_the_answer_with_javascript(live_server, page):
    page.goto(f"{live_server.url}/q/sipas-local")
    follow_up = page.locator("#item-feedback_3")
    assert follow_up.is_hidden()
    page.locator("input[name=gave_feedback][value='1']").check()
    assert follow_up.is_visible()
    page.locator("input[name=gave_feedback][value='2']").check()
    assert follow_up.is_hidden()


@pytest.mark.parametrize("page", [False], indirect=True, ids=["no-js"])
def test_form_works_without_javascript(live_server, page):
    page.goto(f"{live_server.url}/q/sipas-local")
    assert page.locator("#item-feedback_3").is_visible(), "without JS the server shows it with a note"
    for name in page.eval_on_selector_all("fieldset input[type=radio]", "els => [...new Set(els.map(e => e.name))]"):
        value = "2" if name == "gave_feedback" else "5" if name not in ("gender", "age_band", "ethnicity", "education", "occupation", "area") else "1"
        page.locator(f"input[name={name}][value='{value}']").check()
    page.locator("button.send").click()
    page.wait_for_url("**/cam-on")
    [r] = stored_responses(live_server.app)
    keys = {a.item_key for a in r.answers}
    assert "feedback_3" not in keys, "answered but not applicable: discarded on the server"
    assert "overall" in keys


def test_errors_are_summarised_linked_and_focused(live_server, page):
    page.goto(f"{live_server.url}/q/sipas-local")
    page.locator("input[name=access_1][value='3']").check()
    page.locator("button.send").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator("input[name=access_1][value='3']").is_checked(), "kept after the error"
    summary.locator("a[href='#overall']").click()
    assert page.evaluate("location.hash") == "#overall"
    assert stored_responses(live_server.app) == []


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_tap_targets_and_no_horizontal_scroll_at_360px(live_server, page, lang):
    page.goto(f"{live_server.url}/q/sipas-local?lang={lang}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    heights = page.eval_on_selector_all(".opt", "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().height)")
    assert min(heights) >= 44, "tap targets at least 44 px high"
    widths = page.eval_on_selector_all(".scale .opt.s3", "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().width)")
    assert min(widths) >= 44


@pytest.mark.parametrize("path", ["/q/sipas-2017", "/q/sipas-2017?lang=en", "/q/sipas-2023", "/q/counter-quick", "/", "/q/khong-co"])
def test_pages_pass_axe_accessibility_checks(live_server, page, path):
    from axe_playwright_python.sync_playwright import Axe

    page.goto(f"{live_server.url}{path}")
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
    violations = [(v["id"], v["help"], len(v["nodes"])) for v in results.response["violations"]]
    assert violations == [], violations


def test_error_state_passes_axe(live_server, page):
    from axe_playwright_python.sync_playwright import Axe

    page.goto(f"{live_server.url}/q/sipas-local")
    page.locator("button.send").click()
    page.locator("#error-summary").wait_for()
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
    assert [(v["id"], v["help"]) for v in results.response["violations"]] == []


def test_language_switch_is_visible_and_works(live_server, page):
    page.goto(f"{live_server.url}/q/sipas-local")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_text("The civil servant was polite").is_visible()
