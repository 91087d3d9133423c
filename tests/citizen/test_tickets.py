"""Each post is bound to its render: signed single-use tickets, server-side render time,
stale forms shown again with the answers kept, limits a client cannot walk around."""
from __future__ import annotations

import time

import pytest
from werkzeug.datastructures import MultiDict

from survey.citizen import tickets
from tests.conftest import FormPage
from tests.formdata import answers_for, post_body
from tests.qrkit import QUICK, aged_ticket, place, responses, submit  # noqa: F401

URL = "/q/counter-quick"


def reasons(app) -> list[list[str]]:
    return [sorted(f.reason for f in r.flags) for r in responses(app)]


def open_form(client, url: str = URL) -> FormPage:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return FormPage(resp.get_data(as_text=True))


def post(client, form: FormPage, url: str = URL, **override: str):
    hidden = {**form.hidden, **override}
    return client.post(url, data=MultiDict(post_body(hidden, answers_for(QUICK, choose=4))))


def test_ticket_round_trip_and_what_it_refuses(app):
    with app.test_request_context():
        value = tickets.issue("/q/a")
        assert len(value) == 53 and tickets.is_well_formed(value)
        assert tickets.check(value, "/q/a").value == value
        for bad in (value + "\n", value.replace(".", ".0", 1), value[:-1] + ("A" if value[-1] != "A" else "B")):
            with pytest.raises(tickets.InvalidTicket):
                tickets.check(bad, "/q/a")
        with pytest.raises(tickets.InvalidTicket):
            tickets.check(value, "/q/b")  # carried over from another page
        old = tickets.issue("/q/a", int(time.time() * 1000) - tickets.MAX_AGE_MS - 1000)
        with pytest.raises(tickets.ExpiredTicket):
            tickets.check(old, "/q/a")
        future = tickets.issue("/q/a", int(time.time() * 1000) + 3_600_000)
        with pytest.raises(tickets.InvalidTicket):
            tickets.check(future, "/q/a")


def test_an_invented_ticket_stores_nothing_and_keeps_the_answers(app, client):
    form = open_form(client)
    invented = "A" * 16 + "." + str(int(time.time() * 1000)) + "." + "B" * 22
    resp = post(client, form, submission_id=invented)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Phiếu chưa được gửi" in html
    assert 'value="4" checked' in html or "checked" in html, "the answers are kept"
    assert responses(app) == []
    again = FormPage(html)
    assert again.hidden["submission_id"] != invented and tickets.is_well_formed(again.hidden["submission_id"])
    assert post(client, again).status_code == 303, "the fresh ticket on the page sends it"
    assert len(responses(app)) == 1


def test_one_render_stores_one_response_whatever_is_posted_again(app, client):
    form = open_form(client)
    assert [post(client, form).status_code for _ in range(3)] == [303, 303, 303]
    assert len(responses(app)) == 1


def test_a_ticket_answers_only_the_page_it_was_rendered_for(app, client):
    form = open_form(client, "/q/counter-quick")
    resp = post(client, form, url="/q/sipas-2017")
    assert resp.status_code in (400, 422) and responses(app) == []


def test_render_time_comes_from_the_ticket_not_the_visitor(app, client):
    form = open_form(client)
    assert post(client, form, started="0").status_code == 303  # a forged old render time is ignored
    assert reasons(app) == [["speeder"]], "answered at once: a speeder, whatever 'started' said"
    other = app.test_client()  # another person, who took two minutes
    form = open_form(other)
    form.hidden["submission_id"] = aged_ticket(other, URL, seconds=120)
    assert post(other, form).status_code == 303
    assert reasons(app)[1] == []


def test_an_expired_csrf_token_shows_the_form_again_with_the_answers(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    form = open_form(client)
    resp = post(client, form, csrf_token="IjAwMDAi.expired.token")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Phiên làm việc đã hết hạn nên phiếu chưa được gửi" in html
    assert 'id="survey-form"' in html and "checked" in html
    assert responses(app) == []
    assert post(client, FormPage(html)).status_code == 303
    assert len(responses(app)) == 1


def test_dropping_the_device_cookie_does_not_make_a_new_device(app, client, place):
    url = f"/c/{place.single_code}"
    assert submit(client, url).status_code == 303
    client.delete_cookie("sipas_device")
    assert submit(client, url).status_code == 303
    assert reasons(app) == [[], ["device_repeat"]]


def test_questionnaire_links_have_the_same_limits(app, client):
    app.config["DEVICE_LIMIT"] = 2
    assert [submit(client, URL).status_code for _ in range(3)] == [303, 303, 429]
    assert reasons(app) == [[], ["device_repeat"]]
    assert submit(app.test_client(), URL).status_code == 303, "another phone is fine"
