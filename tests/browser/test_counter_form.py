"""The counter form of Nghị định 118 Điều 33 in real chromium: a receipt scanned before the result."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Response

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def stored_codes(app) -> list[dict[str, int]]:
    with app.app_context():
        return [{a.item_key: a.code for a in r.answers} for r in get_session().scalars(select(Response))]


def test_not_received_hides_the_result_item_and_the_petition_filter_opens_g(live_server, page):
    page.goto(f"{live_server.url}/q/counter-quick")
    e1, g = page.locator("#item-result_legal"), page.locator("#item-petition_response")
    assert e1.is_hidden() and g.is_hidden(), "conditional items wait for their answer"
    page.locator("input[name=result_time][value='2']").check()  # Đúng ngày hẹn
    assert e1.is_visible()
    page.get_by_label("Chưa nhận kết quả").check()
    assert e1.is_hidden()
    page.locator("input[name=lodged_petition][value='1']").check()
    assert g.is_visible()
    page.locator("input[name=lodged_petition][value='2']").check()
    assert g.is_hidden()


def test_a_receipt_scanned_before_the_result_is_stored_without_it(live_server, page):
    page.goto(f"{live_server.url}/q/counter-quick")
    assert "khoản 3 Điều 29 Nghị định số 118/2025/NĐ-CP" in page.locator("main").inner_text()
    purpose = page.locator("details.purpose")
    assert not purpose.locator("p").is_visible()
    purpose.locator("summary").click()
    assert "Điều 33" in purpose.locator("p").inner_text()
    page.get_by_label("Chưa nhận kết quả").check()
    choices = {"agencies_contacted": 1, "extra_contacts": 1, "info_published": 5, "staff_attitude": 4,
               "costs_legal": 4, "extra_charges": 2, "lodged_petition": 2, "used_online": 2, "overall": 4}
    for name, code in choices.items():
        page.locator(f"input[name={name}][value='{code}']").check()
    page.locator("button.send").click()
    page.wait_for_url("**/cam-on")
    [codes] = stored_codes(live_server.app)
    assert codes["result_time"] == 4
    assert not {"result_legal", "petition_response", "online_service"} & set(codes)
    assert {k: codes[k] for k in choices} == choices


def test_the_printed_form_carries_the_full_introduction(live_server, page):
    page.goto(f"{live_server.url}/q/sipas-2023")
    full = page.locator("p.print-purpose")
    assert full.is_hidden(), "on screen the introduction folds under 'Giới thiệu khảo sát'"
    page.emulate_media(media="print")
    assert full.is_visible() and "Bộ Nội vụ kính mong Ông/Bà" in full.inner_text()
    assert page.locator("details.purpose").is_hidden()
