"""The citizen form end to end through the test client: store, refuse, never 500."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from questionnaires.loader import load_file
from survey import catalog
from survey.db import get_session
from survey.models import Answer, IdempotencyKey, Response, ResponseFlag
from tests.formdata import answers_for, post_body

SIPAS = load_file("tests/fixtures/sipas-local.yaml")
URL = "/q/sipas-local"


def count(app, model=Response) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model))


def stored(app) -> list[Response]:
    with app.app_context():
        session = get_session()
        rows = list(session.scalars(select(Response).order_by(Response.id)))
        for r in rows:
            _ = r.answers, r.flags
        return rows


def submit(client, form, answers, url=URL, **extra):
    body = MultiDict(post_body(form.hidden, answers))
    for k, v in extra.items():
        body.add(k, v)
    return client.post(url, data=body)


def test_form_renders_every_item_in_vietnamese(client):
    resp = client.get(URL)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert '<html lang="vi">' in html
    assert "Công chức có thái độ giao tiếp lịch sự" in html
    for item in SIPAS.items:
        assert f'name="{item.key}"' in html, item.key
    assert html.count("<fieldset") == sum(1 for i in SIPAS.items if i.type in ("satisfaction", "single", "multiple"))
    assert "Rất không hài lòng" in html and "Không có ý kiến" in html
    assert "<select" not in html, "scales are never collapsed into a dropdown"
    assert resp.headers["Cache-Control"] == "private, no-cache", "never in a shared cache; Back may restore it"


def test_submit_round_trip_stores_raw_codes(app, client, get_form):
    form = get_form(URL)
    answers = answers_for(SIPAS, choose=5, staff_1=2, access_1=0, gave_feedback=1, comment="Cần thêm ghế chờ")
    resp = submit(client, form, answers)
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/q/sipas-local/cam-on")
    thanks = client.get(resp.headers["Location"])
    assert "Cảm ơn Ông/Bà" in thanks.get_data(as_text=True)
    [r] = stored(app)
    codes = {a.item_key: a.code for a in r.answers if a.code is not None}
    assert codes["staff_1"] == 2 and codes["access_1"] == 0 and codes["overall"] == 5
    assert codes["feedback_3"] == 5, "shown because gave_feedback = 1"
    assert {a.item_key: a.text for a in r.answers if a.text}["comment"] == "Cần thêm ghế chờ"
    assert r.language == "vi" and r.channel == "web" and r.source == "feedback"
    assert r.duration_ms is not None and r.duration_ms >= 0
    with app.app_context():
        assert r.version_id == catalog.latest(get_session(), "sipas-local").id


def test_missing_required_answers_show_errors_and_keep_answers(app, client, get_form):
    form = get_form(URL)
    answers = answers_for(SIPAS, choose=3)
    del answers["staff_2"], answers["overall"]
    resp = submit(client, form, answers)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="error-summary"' in html and "Vui lòng kiểm tra lại 2 câu trả lời" in html
    assert 'href="#staff_2"' in html and 'href="#overall"' in html, "errors link to their questions"
    assert 'name="staff_1" value="3" checked' in html, "answers already given are kept"
    assert count(app) == 0


def test_conditional_items_resolved_on_server(app, client, get_form):
    # Without JavaScript the dependent items are visible; answers to them are discarded
    # when the condition does not hold, and they are not required.
    html = client.get(URL).get_data(as_text=True)
    assert 'data-show-if="gave_feedback"' in html and "Chỉ trả lời nếu" in html
    form = get_form(URL)
    answers = answers_for(SIPAS, gave_feedback=2, feedback_3=1)
    assert submit(client, form, answers).status_code == 303
    [r] = stored(app)
    keys = {a.item_key for a in r.answers}
    assert "feedback_3" not in keys and "feedback_4" not in keys


def test_conditional_required_when_condition_holds(app, client, get_form):
    form = get_form(URL)
    answers = answers_for(SIPAS, gave_feedback=2)
    answers["gave_feedback"] = 1  # now feedback_3/4 apply but were not answered
    resp = submit(client, form, answers)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'href="#feedback_3"' in html and 'href="#feedback_4"' in html
    assert count(app) == 0


def test_hidden_condition_after_error_is_hidden_server_side(client, get_form):
    form = get_form(URL)
    answers = answers_for(SIPAS, gave_feedback=2)
    del answers["overall"]
    html = submit(client, form, answers).get_data(as_text=True)
    assert 'id="item-feedback_3" data-show-if="gave_feedback" data-codes="1" hidden' in html


def test_double_submit_stores_one_response(app, client, get_form):
    form = get_form(URL)
    answers = answers_for(SIPAS)
    first, second = submit(client, form, answers), submit(client, form, answers)
    assert first.status_code == second.status_code == 303
    assert count(app) == 1 and count(app, IdempotencyKey) == 1


def test_concurrent_retries_store_one_response(app, client, get_form):
    form = get_form(URL)
    cookie = client.get_cookie("session").value
    body = post_body(form.hidden, answers_for(SIPAS))
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def retry():
        c = app.test_client()
        c.set_cookie("session", cookie)  # the same browser that rendered the form, retrying
        barrier.wait()
        statuses.append(c.post(URL, data=MultiDict(body)).status_code)

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [303] * 4
    assert count(app) == 1


def test_new_render_gets_new_submission_id(get_form):
    assert get_form(URL).hidden["submission_id"] != get_form(URL).hidden["submission_id"]


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_csrf_missing_or_wrong_is_refused(app, client, get_form, token):
    form = get_form(URL)
    hidden = dict(form.hidden)
    if token is None:
        hidden.pop("csrf_token")
    else:
        hidden["csrf_token"] = token
    resp = client.post(URL, data=MultiDict(post_body(hidden, answers_for(SIPAS))))
    assert resp.status_code == 400
    assert "Phiên làm việc đã hết hạn" in resp.get_data(as_text=True)
    assert count(app) == 0


@pytest.mark.parametrize("bad", [
    {"staff_1": "6"}, {"staff_1": "-1"}, {"overall": "0"}, {"gender": "9"}, {"staff_1": "abc"}, {"staff_1": "1e3"},
])
def test_out_of_range_codes_are_400_and_nothing_stored(app, client, get_form, bad):
    form = get_form(URL)
    answers = {**answers_for(SIPAS), **bad}
    resp = submit(client, form, answers)
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "không hợp lệ" in html and list(bad.values())[0] in html
    assert count(app) == 0


def test_two_values_for_one_choice_is_400(app, client, get_form):
    form = get_form(URL)
    resp = submit(client, form, answers_for(SIPAS), staff_1="3")
    assert resp.status_code == 400
    assert count(app) == 0


def test_unknown_field_is_400(app, client, get_form):
    form = get_form(URL)
    resp = submit(client, form, answers_for(SIPAS), is_admin="1")
    assert resp.status_code == 400
    assert "is_admin" in resp.get_data(as_text=True)
    assert count(app) == 0


def test_missing_submission_id_is_400(app, client, get_form):
    form = get_form(URL)
    hidden = {k: v for k, v in form.hidden.items() if k != "submission_id"}
    assert client.post(URL, data=MultiDict(post_body(hidden, answers_for(SIPAS)))).status_code == 400
    assert count(app) == 0


def test_body_over_64_kb_is_413(app, client, get_form):
    form = get_form(URL)
    resp = submit(client, form, answers_for(SIPAS, comment="x" * 70_000))
    assert resp.status_code == 413
    assert "quá lớn" in resp.get_data(as_text=True)
    assert count(app) == 0


def test_text_longer_than_allowed_is_a_form_error(app, client, get_form):
    form = get_form(URL)
    resp = submit(client, form, answers_for(SIPAS, comment="ý" * 1001))
    assert resp.status_code == 422
    assert "Tối đa 1000 ký tự" in resp.get_data(as_text=True)
    assert count(app) == 0


@pytest.mark.parametrize("url", ["/q/khong-co", "/q/sipas-local?v=99", "/q/sipas-local?v=abc", "/q/sipas-local/cam-on/x", "/khong-co"])
def test_unknown_questionnaire_or_version_is_vietnamese_404(client, url):
    resp = client.get(url)
    assert resp.status_code == 404
    assert "Không tìm thấy trang" in resp.get_data(as_text=True)


def test_post_to_unknown_version_is_404(app, client, get_form):
    form = get_form(URL)
    form.hidden["v"] = "42"
    assert submit(client, form, answers_for(SIPAS)).status_code == 404
    assert count(app) == 0


def test_english_switch_and_cookie(app, client, get_form):
    resp = client.get(URL + "?lang=en")
    html = resp.get_data(as_text=True)
    assert '<html lang="en">' in html and "The civil servant was polite" in html and "Very satis\u00adfied" in html
    assert "Tiếng Việt" in html, "a visible switch back"
    assert any(c.startswith("lang=en;") for c in resp.headers.getlist("Set-Cookie"))
    again = client.get(URL).get_data(as_text=True)
    assert "The civil servant was polite" in again, "the choice is remembered"
    form = get_form(URL)
    assert form.hidden["lang"] == "en"
    answers = answers_for(SIPAS)
    del answers["overall"]
    html = submit(client, form, answers).get_data(as_text=True)
    assert "Please choose an answer." in html
    submit(client, form, answers_for(SIPAS))
    assert stored(app)[0].language == "en"


def test_vietnamese_switch_link_on_default_page(client):
    html = client.get(URL).get_data(as_text=True)
    assert 'href="/q/sipas-local?lang=en"' in html


def test_old_version_answers_keep_their_version(app, client, get_form):
    form = get_form(URL)  # rendered with version 1
    with app.app_context():
        session = get_session()
        data = dict(SIPAS.definition, version=2, title={"vi": "Phiếu mới", "en": "New form"})
        from questionnaires.loader import load_dict
        catalog.publish(session, load_dict(data))
        session.commit()
    assert "Phiếu mới" in client.get(URL).get_data(as_text=True)
    assert submit(client, form, answers_for(SIPAS)).status_code == 303
    with app.app_context():
        session = get_session()
        r = session.scalars(select(Response)).one()
        assert r.version_id == catalog.get_version(session, "sipas-local", 1).id


def test_honeypot_stores_but_flags(app, client, get_form):
    form = get_form(URL)
    assert submit(client, form, answers_for(SIPAS), website="http://spam").status_code == 303
    [r] = stored(app)
    assert "honeypot" in {f.reason for f in r.flags}


def test_straight_lining_fast_answers_are_flagged_not_dropped(app, client, get_form):
    form = get_form(URL)
    assert submit(client, form, answers_for(SIPAS, choose=5)).status_code == 303
    [r] = stored(app)
    reasons = {f.reason for f in r.flags}
    assert {"straightline", "speeder"} <= reasons
    assert count(app, ResponseFlag) >= 2 and len(r.answers) > 20


def test_every_bundled_questionnaire_accepts_a_valid_submission(app, client, get_form):
    with app.app_context():
        versions = [catalog.definition(r) for r in catalog.list_latest(get_session())]
    assert len(versions) >= 3
    for q in versions:
        url = f"/q/{q.key}"
        resp = submit(client, get_form(url), answers_for(q), url=url)
        assert resp.status_code == 303, (q.key, resp.get_data(as_text=True)[:2000])
    assert count(app) == len(versions)
    assert count(app, Answer) > 0
