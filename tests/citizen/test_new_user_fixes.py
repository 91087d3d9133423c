"""What a new user hit on the citizen side (issue #11, items 1, 5, 6, 7): the page a device sees
after answering, honest wording on receipt links, error pages with a way on, unknown tags refused."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from survey.db import get_session
from survey.models import DossierToken
from tests.qrkit import offline_link, place, responses, submit  # noqa: F401

NOTICE = "Thiết bị này vừa gửi một phiếu đánh giá tại đây lúc"


def test_a_device_that_just_answered_is_told_so_with_the_time(app, client, place):
    url = f"/c/{place.single_code}"
    assert NOTICE not in client.get(url).get_data(as_text=True)
    assert submit(client, url).status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert NOTICE in html and "Đánh giá cho hồ sơ khác" in html and "Tôi đã đánh giá xong" in html
    [r] = responses(app)
    vietnam = r.submitted_at.replace(tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh"))
    assert f"lúc {vietnam:%H:%M %d/%m/%Y}." in html, "the time people in Vietnam read"
    assert NOTICE not in app.test_client().get(url).get_data(as_text=True), "another phone sees no notice"
    app.config["DEVICE_REPEAT_MINUTES"] = 0
    assert NOTICE not in client.get(url).get_data(as_text=True), "only within the repeat window"


def test_the_form_may_be_restored_by_back_but_never_shared_or_stored_by_a_proxy(client):
    resp = client.get("/q/counter-quick")
    assert resp.headers["Cache-Control"] == "private, no-cache"


def test_a_receipt_form_says_precisely_what_is_kept(app, client, place):
    today = datetime.now(UTC).date()
    link = offline_link(place.key_id, place.secret, "HS-77", "dat-dai", "", today)
    html = client.get(link).get_data(as_text=True)
    assert "Hồ sơ số: HS-77" in html
    assert "không lưu mã hồ sơ, họ tên, số điện thoại hay số giấy tờ tùy thân" in html
    assert "Phiếu khảo sát ẩn danh" not in html, "not the generic claim next to the dossier number"
    assert submit(client, link).status_code == 303
    with app.app_context():
        token = get_session().scalar(select(DossierToken).filter_by(dossier_code="HS-77"))
        assert token.used_at is not None
        assert (token.used_at.hour, token.used_at.minute, token.used_at.second) == (0, 0, 0), \
            "only the day is kept, so the token cannot be paired with the response by time"


def test_a_signed_link_naming_an_unknown_field_or_procedure_is_refused(app, client, place):
    today = datetime.now(UTC).date()
    for field, procedure in (("khong-co", ""), ("", "thu-tuc-khong-co")):
        resp = client.get(offline_link(place.key_id, place.secret, "HS-88", field, procedure, today))
        assert resp.status_code == 404 and "không hợp lệ" in resp.get_data(as_text=True)
    assert responses(app) == []


def test_error_pages_offer_a_way_on(app, client, place):
    html = client.get("/q/khong-co").get_data(as_text=True)
    assert 'href="/"' in html and "Về trang chủ khảo sát" in html
    app.config["DEVICE_LIMIT"] = 1
    url = f"/c/{place.single_code}"
    submit(client, url)
    resp = submit(client, url)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "Ông/Bà" in html and "Bạn " not in html
    assert f'href="{url}"' in html and "Mở lại phiếu khảo sát" in html


def test_long_forms_show_their_parts_and_length_without_javascript(client):
    html = client.get("/q/sipas-2023").get_data(as_text=True)
    assert "Phần 1/15" in html and "Phần 15/15" in html
    assert "Phiếu có 53 câu, thêm tối đa 20 câu tùy câu trả lời." in html


def test_a_form_shown_again_leaves_out_sections_that_do_not_apply(client):
    page = client.get("/q/sipas-2023").get_data(as_text=True)
    from tests.conftest import FormPage
    from werkzeug.datastructures import MultiDict

    hidden = FormPage(page).hidden
    resp = client.post("/q/sipas-2023", data=MultiDict([(k, v) for k, v in hidden.items()] + [("c8_4", "2")]))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'aria-labelledby="sec-access" hidden' in html, "no heading over questions that do not apply"
    assert 'aria-labelledby="sec-respondent" hidden' not in html


def test_the_error_summary_counts_in_good_english(client):
    from werkzeug.datastructures import MultiDict

    from tests.conftest import FormPage
    from tests.formdata import answers_for, post_body
    from tests.qrkit import QUICK

    form = FormPage(client.get("/q/counter-quick?lang=en").get_data(as_text=True))
    answers = answers_for(QUICK, choose=4)
    del answers["overall"]
    html = client.post("/q/counter-quick?lang=en", data=MultiDict(post_body(form.hidden, answers))).get_data(as_text=True)
    assert "Please check 1 answer<" in html
