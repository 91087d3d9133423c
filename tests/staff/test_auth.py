"""Log-in, log-out, first-log-in change, sessions that end (disabled, reset, expired, tampered),
CSRF on staff posts, and safe redirects after log-in."""
from __future__ import annotations

import time

from sqlalchemy import select

from survey.db import get_session
from survey.models import StaffUser
from survey.staff import accounts
from tests.staff.conftest import PASSWORD, audit_rows, csrf_token, login, token_for


def user(app, login_name: str) -> StaffUser:
    with app.app_context():
        return get_session().scalar(select(StaffUser).filter_by(login=login_name))


def test_login_page_is_vietnamese_with_labels(client):
    html = client.get("/staff/login").get_data(as_text=True)
    assert '<label for="login">Tên đăng nhập</label>' in html and '<label for="password">Mật khẩu</label>' in html
    assert 'lang="vi"' in html
    english = client.get("/staff/login?lang=en").get_data(as_text=True)
    assert "Password" in english and 'lang="en"' in english


def test_wrong_password_is_refused_and_audited(app, client, tree):
    resp = login(client, tree.users["reader"], "not the password at all")
    assert resp.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in resp.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    (row,) = audit_rows(app, "login_failed")
    assert row.actor_login == tree.users["reader"] and row.actor_id == tree.ids["reader"]


def test_unknown_login_gives_the_same_answer(app, client, tree):
    resp = login(client, "khong.co.ai", PASSWORD)
    assert resp.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng." in resp.get_data(as_text=True)
    (row,) = audit_rows(app, "login_failed")
    assert row.actor_id is None and row.actor_login == "khong.co.ai"


def test_login_then_logout(app, client, tree):
    assert login(client, tree.users["reader"]).headers["Location"].endswith("/staff/")
    page = client.get("/staff/")
    assert page.status_code == 200 and "Xem báo cáo" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    resp = client.post("/staff/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/login")
    assert client.get("/staff/").status_code == 302
    assert [r.action for r in audit_rows(app)][-2:] == ["login", "logout"]


def test_session_cookie_is_httponly_and_lax(client, tree):
    resp = login(client, tree.users["reader"])
    cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")][-1]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_first_login_forces_a_password_change(app, client, tree):
    with app.app_context():
        session = get_session()
        _new, one_time = accounts.create_user(session, "moi.vao", "Người Mới")
        session.commit()
    resp = login(client, "moi.vao", one_time)
    assert resp.headers["Location"].endswith("/staff/password")
    assert client.get("/staff/").headers["Location"].endswith("/staff/password")  # every page waits
    form = client.get("/staff/password").get_data(as_text=True)
    assert "lần đăng nhập đầu tiên" in form
    weak = client.post("/staff/password", data={"current": one_time, "new": "matkhau123456", "confirm": "matkhau123456",
                                                "csrf_token": csrf_token(form)})
    assert weak.status_code == 422 and "quá phổ biến" in weak.get_data(as_text=True)
    ok = client.post("/staff/password", data={"current": one_time, "new": PASSWORD, "confirm": PASSWORD,
                                              "csrf_token": csrf_token(form)})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/staff/")
    assert client.get("/staff/").status_code == 200
    assert not user(app, "moi.vao").must_change_password
    assert audit_rows(app, "password_changed")[0].actor_login == "moi.vao"
    other = app.test_client()
    assert login(other, "moi.vao", one_time).status_code == 401  # the one-time password is spent


def test_disabled_account_with_a_live_session_is_sent_to_login(app, tree, as_role):
    reader = as_role("reader")
    assert reader.get("/staff/").status_code == 200
    admin = as_role("system_admin")
    resp = admin.post(f"/staff/users/{tree.ids['reader']}/disable", data={"csrf_token": token_for(admin)})
    assert resp.status_code == 302
    page = reader.get("/staff/")
    assert page.status_code == 302 and "/staff/login" in page.headers["Location"]
    assert "đã bị khoá" in reader.get(page.headers["Location"]).get_data(as_text=True)
    assert audit_rows(app, "session_refused")[0].actor_id == tree.ids["reader"]
    assert login(app.test_client(), tree.users["reader"]).status_code == 401  # and cannot log in again


def test_reset_ends_live_sessions_and_forces_a_change(app, tree, as_role):
    reader = as_role("reader")
    admin = as_role("system_admin")
    resp = admin.post(f"/staff/users/{tree.ids['reader']}/reset", data={"csrf_token": token_for(admin)})
    html = resp.get_data(as_text=True)
    one_time = html.split('id="one-time-password">', 1)[1].split("<", 1)[0]
    assert resp.headers["Cache-Control"] == "no-store"
    assert reader.get("/staff/").status_code == 302
    fresh = app.test_client()
    assert login(fresh, tree.users["reader"], one_time).headers["Location"].endswith("/staff/password")


def test_expired_session_goes_back_to_login(app, client, tree, monkeypatch):
    login(client, tree.users["reader"])
    assert client.get("/staff/").status_code == 200
    later = time.time() + 61 * 60  # past STAFF_IDLE_MINUTES
    monkeypatch.setattr(time, "time", lambda: later)
    resp = client.get("/staff/")
    assert resp.status_code == 302 and "next=/staff/" in resp.headers["Location"]
    assert "hết hạn" in client.get("/staff/login").get_data(as_text=True)


def test_tampered_cookie_is_no_session(app, client, tree):
    login(client, tree.users["system_admin"])
    cookie = client.get_cookie("session")
    value = cookie.value
    client.set_cookie("session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"), domain=cookie.domain)
    resp = client.get("/staff/users")
    assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]


def test_posts_without_csrf_are_refused_and_change_nothing(app, tree, as_role):
    admin = as_role("system_admin")
    resp = admin.post(f"/staff/users/{tree.ids['victim']}/disable", data={})
    assert resp.status_code == 400 and "Phiên làm việc đã hết hạn hoặc không hợp lệ" in resp.get_data(as_text=True)
    assert user(app, "nan.nhan").active
    assert app.test_client().post("/staff/login", data={"login": "x", "password": "y"}).status_code == 400


def test_next_only_goes_to_this_site(client, tree):
    page = client.get("/staff/login")
    resp = client.post("/staff/login?next=//evil.example/x", data={
        "login": tree.users["reader"], "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.headers["Location"].endswith("/staff/")
    client.post("/staff/logout", data={"csrf_token": token_for(client)})
    page = client.get("/staff/login")
    resp = client.post("/staff/login?next=/staff/password", data={
        "login": tree.users["reader"], "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.headers["Location"].endswith("/staff/password")


def test_reader_calling_an_administrator_url_gets_a_vietnamese_403_and_an_audit_row(app, tree, as_role):
    resp = as_role("reader").get("/staff/units/11953")
    assert resp.status_code == 403 and "Không có quyền truy cập" in resp.get_data(as_text=True)
    row = audit_rows(app, "access_denied")[-1]
    assert row.actor_id == tree.ids["reader"] and row.target == "/staff/units/11953"


def test_commune_administrator_is_refused_another_communes_counter(app, tree, as_role):
    admin = as_role("unit_admin")
    assert admin.get(f"/staff/counters/{tree.counter_a}").status_code == 200
    assert admin.get(f"/staff/counters/{tree.counter_b}").status_code == 403
    assert admin.get(f"/staff/counters/{tree.counter_b}/poster.pdf").status_code == 403
    assert admin.get("/staff/counters/999999").status_code == 404


def test_a_pending_password_change_still_offers_log_out(app, client, tree):
    with app.app_context():
        session = get_session()
        _new, one_time = accounts.create_user(session, "chua.doi", "Chưa Đổi")
        session.commit()
    login(client, "chua.doi", one_time)
    html = client.get("/staff/password").get_data(as_text=True)
    assert 'action="/staff/logout"' in html and "/staff/units" not in html
    assert client.post("/staff/logout", data={"csrf_token": csrf_token(html)}).status_code == 302
    assert client.get("/staff/password").status_code == 302


def test_a_save_that_loses_a_race_is_a_409_page_not_a_500(app, tree, as_role, monkeypatch):
    from survey.staff import views

    def racing_create(session, login_name, full_name):  # another administrator saved the same log-in first
        session.add(StaffUser(login=tree.users["reader"], full_name=full_name, password_hash="x"))
        session.flush()

    monkeypatch.setattr(views.accounts, "create_user", racing_create)
    admin = as_role("system_admin")
    resp = admin.post("/staff/users/new", data={"login": "moi", "full_name": "Mới", "csrf_token": token_for(admin)})
    assert resp.status_code == 409 and "Dữ liệu vừa được người khác thay đổi" in resp.get_data(as_text=True)
    assert admin.get("/staff/users").status_code == 200


def test_cookies_are_secure_behind_https(app, tree):
    client = app.test_client()
    page = client.get("/staff/login", base_url="https://khaosat.example.gov.vn")
    device = next(h for h in page.headers.getlist("Set-Cookie") if h.startswith("staff_device="))
    assert "Secure" in device and "HttpOnly" in device
    resp = client.post("/staff/login", base_url="https://khaosat.example.gov.vn",
                       headers={"Referer": "https://khaosat.example.gov.vn/staff/login"}, data={
        "login": tree.users["reader"], "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
    session_cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")][-1]
    assert resp.status_code == 302 and "Secure" in session_cookie


def test_guessing_the_current_password_on_the_password_page_is_throttled(app, tree, as_role):
    app.config["STAFF_LOGIN_ACCOUNT_LIMIT"] = 3
    reader = as_role("reader")
    for _ in range(3):
        resp = reader.post("/staff/password", data={"current": "a guess of twelve", "new": "x" * 14, "confirm": "x" * 14,
                                                    "csrf_token": token_for(reader)})
        assert resp.status_code == 422 and "Mật khẩu hiện tại không đúng." in resp.get_data(as_text=True)
    resp = reader.post("/staff/password", data={"current": PASSWORD, "new": "x" * 14, "confirm": "x" * 14,
                                                "csrf_token": token_for(reader)})
    assert "Đăng nhập sai quá nhiều lần" in resp.get_data(as_text=True)
    assert len(audit_rows(app, "login_failed")) == 3 and not audit_rows(app, "password_changed")
    assert login(app.test_client(), tree.users["reader"]).status_code == 429  # the account is locked for log-ins too
