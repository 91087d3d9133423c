"""Abuse resistance at the counter: device cookie, repeat flags, bursts, hard limit, honeypot."""
from __future__ import annotations

import logging

from werkzeug.datastructures import MultiDict

from survey import ratelimit
from survey.citizen import abuse
from survey.db import get_session
from tests.conftest import FormPage
from tests.formdata import answers_for, post_body
from tests.qrkit import QUICK, place, responses, submit  # noqa: F401


def reasons(app) -> list[list[str]]:
    return [sorted(f.reason for f in r.flags) for r in responses(app)]


def test_device_cookie_is_first_party_httponly_lax_for_a_year(client, place):
    resp = client.get(f"/c/{place.single_code}")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(abuse.DEVICE_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    assert "Domain" not in cookie
    again = client.get(f"/c/{place.single_code}")
    assert not any(h.startswith(abuse.DEVICE_COOKIE) for h in again.headers.getlist("Set-Cookie"))


def test_repeat_from_one_device_at_one_counter_is_stored_and_flagged(app, client, place):
    assert submit(client, f"/c/{place.single_code}").status_code == 303
    assert submit(client, f"/c/{place.single_code}").status_code == 303
    first, second = responses(app)
    assert first.device_hash == second.device_hash
    assert reasons(app) == [[], ["device_repeat"]]
    assert "within 10 min" in second.flags[0].detail


def test_other_devices_and_other_counters_are_not_repeats(app, place):
    a, b = app.test_client(), app.test_client()
    assert submit(a, f"/c/{place.single_code}").status_code == 303
    assert submit(b, f"/c/{place.single_code}").status_code == 303  # same IP, another phone
    assert submit(a, f"/c/{place.multi_code}?f=chung-thuc").status_code == 303  # same phone, other counter
    rows = responses(app)
    assert reasons(app) == [[], [], []]
    assert len({r.device_hash for r in rows}) == 3  # not linkable across counters


def test_repeat_window_is_configurable(app, client, place):
    app.config["DEVICE_REPEAT_MINUTES"] = 0
    submit(client, f"/c/{place.single_code}")
    submit(client, f"/c/{place.single_code}")
    assert reasons(app) == [[], []]


def test_device_over_the_hard_limit_gets_429_in_vietnamese(app, client, place):
    app.config["DEVICE_LIMIT"] = 2
    assert [submit(client, f"/c/{place.single_code}").status_code for _ in range(3)] == [303, 303, 429]
    resp = submit(client, f"/c/{place.single_code}")
    assert resp.status_code == 429 and "Thiết bị này đã gửi quá nhiều phiếu" in resp.get_data(as_text=True)
    assert len(responses(app)) == 2
    assert submit(app.test_client(), f"/c/{place.single_code}").status_code == 303  # another phone is fine


def test_a_flood_does_not_get_honest_answers_excluded(app, place, caplog):
    app.config["PLACE_BURST_LIMIT"] = 2
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert submit(app.test_client(), f"/c/{place.single_code}").status_code == 303
    assert reasons(app) == [[]] * 5, "a burst is the operator's alert, never a flag on the answers"
    assert [r.message for r in caplog.records if "burst at" in r.message] == [f"burst at c{place.single_id}: more than 2 answers within 10 min"]


def test_dossier_links_flag_many_dossiers_answered_on_one_phone(app, client, place):
    from datetime import UTC, datetime

    from tests.qrkit import offline_link

    today = datetime.now(UTC).date()
    for n in range(2):
        url = offline_link(place.key_id, place.secret, f"HS-{n}", "", "", today)
        assert submit(client, url).status_code == 303
    assert reasons(app) == [[], ["device_repeat"]]


def test_honeypot_at_the_counter_is_flagged(app, client, place):
    assert submit(client, f"/c/{place.single_code}", website="http://spam.example").status_code == 303
    assert reasons(app) == [["honeypot"]]


def test_hit_counts_per_fixed_window_on_this_database(app):
    with app.app_context():
        session = get_session()
        now = 1_800_000_000.0
        assert [ratelimit.hit(session, "k", 60, now) for _ in range(3)] == [1, 2, 3]
        assert ratelimit.hit(session, "k", 60, now + 60) == 1
        assert ratelimit.hit(session, "other", 60, now) == 1
        session.commit()
        assert ratelimit.hit(session, "k", 60, now + 1) == 4
        session.rollback()


def test_bad_device_cookie_is_replaced(app, client, place):
    client.set_cookie(abuse.DEVICE_COOKIE, "short")
    resp = client.get(f"/c/{place.single_code}")
    assert any(h.startswith(abuse.DEVICE_COOKIE + "=") and "short" not in h for h in resp.headers.getlist("Set-Cookie"))


def test_double_tap_at_the_counter_stores_one_response(app, client, place):
    """The same rendered form posted twice (a double tap, a network retry) goes through the
    abuse checks twice; the second must land on the thank-you page, not fail."""
    url = f"/c/{place.single_code}"
    form = FormPage(client.get(url).get_data(as_text=True))
    body = post_body(form.hidden, answers_for(QUICK))
    first, second = client.post(url, data=MultiDict(body)), client.post(url, data=MultiDict(body))
    assert (first.status_code, second.status_code) == (303, 303)
    assert len(responses(app)) == 1
