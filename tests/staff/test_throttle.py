"""Failed log-ins are throttled per account and per device, across app servers: two app
instances on one database share the counters."""
from __future__ import annotations

from survey import create_app
from survey.db import engine
from tests.staff.conftest import PASSWORD, audit_rows, login


def second_app(app):
    other = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": app.config["DATABASE_URL"]})
    return other


def test_account_lock_holds_across_two_app_servers(app, tree):
    other = second_app(app)
    try:
        victim = tree.users["reader"]
        # 10 failures from 10 different devices (no device cookie → the address), alternating servers
        for i in range(10):
            server = app if i % 2 else other
            client = server.test_client()
            client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i + 1}"
            assert login(client, victim, f"wrong password number {i}").status_code == 401
        for server in (app, other):
            client = server.test_client()
            client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
            resp = login(client, victim, PASSWORD)  # even the right password waits out the window
            assert resp.status_code == 429, resp.status_code
            assert "Đăng nhập sai quá nhiều lần" in resp.get_data(as_text=True)
        assert len(audit_rows(app, "login_throttled")) == 2
        fresh = app.test_client()  # another account is not affected
        assert login(fresh, tree.users["coordinator"]).status_code == 302
    finally:
        with other.app_context():
            engine().dispose()


def test_device_limit_holds_across_accounts_and_servers(app, tree):
    app.config["STAFF_LOGIN_DEVICE_LIMIT"] = 4
    other = second_app(app)
    other.config["STAFF_LOGIN_DEVICE_LIMIT"] = 4
    try:
        clients = [app.test_client(), other.test_client()]
        clients[0].get("/staff/login")  # the device cookie
        device = clients[0].get_cookie("staff_device").value
        clients[1].set_cookie("staff_device", device)
        for i in range(4):  # one device guessing four different accounts
            assert login(clients[i % 2], f"doan.{i}", "wrong password here").status_code == 401
        assert login(clients[1], tree.users["reader"], PASSWORD).status_code == 429
        elsewhere = app.test_client()
        assert login(elsewhere, tree.users["reader"], PASSWORD).status_code == 302
    finally:
        with other.app_context():
            engine().dispose()


def test_the_lock_lifts_when_the_window_ends(app, tree, monkeypatch):
    import time

    app.config["STAFF_LOGIN_ACCOUNT_LIMIT"] = 2
    for _ in range(2):
        login(app.test_client(), tree.users["reader"], "wrong password here")
    assert login(app.test_client(), tree.users["reader"]).status_code == 429
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert login(app.test_client(), tree.users["reader"]).status_code == 302
