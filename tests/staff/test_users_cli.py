"""`flask users`: the first administrator from the shell, and `users demo --if-empty` for make run."""
from __future__ import annotations

import re

from tests.staff.conftest import audit_rows, login


def otp(output: str) -> str:
    return re.search(r"(?:mật khẩu dùng một lần|one-time password): (\S+)", output).group(1)


def test_create_grant_list_disable_enable_reset(app, runner, tree):
    created = runner.invoke(args=["users", "create", "tran.van.c", "--name", "Trần Văn C", "--role", "unit_admin", "--unit", tree.commune_b])
    assert created.exit_code == 0, created.output
    first = otp(created.output)
    assert "Chỉ hiển thị một lần; phải đổi ở lần đăng nhập đầu tiên." in created.output
    assert login(app.test_client(), "tran.van.c", first).headers["Location"].endswith("/staff/password")
    listed = runner.invoke(args=["users", "list"]).output
    assert re.search(r"tran\.van\.c\s+hoạt động\s+unit_admin@12001 \(chưa đổi mật khẩu lần đầu\)", listed)
    assert runner.invoke(args=["users", "grant", "tran.van.c", "--role", "reader", "--unit", tree.province]).exit_code == 0
    disabled = runner.invoke(args=["users", "disable", "tran.van.c"])
    assert disabled.exit_code == 0 and "tran.van.c: đã khoá" in disabled.output
    assert login(app.test_client(), "tran.van.c", first).status_code == 401
    assert runner.invoke(args=["users", "enable", "tran.van.c"]).exit_code == 0
    reset = runner.invoke(args=["users", "reset", "tran.van.c"])
    assert otp(reset.output) != first
    assert login(app.test_client(), "tran.van.c", first).status_code == 401
    assert login(app.test_client(), "tran.van.c", otp(reset.output)).status_code == 302
    actions = [r.action for r in audit_rows(app) if r.target == "tran.van.c"]
    assert actions == ["user_created", "role_granted", "role_granted", "user_disabled", "user_enabled", "password_reset"]


def test_bad_input_is_a_clear_error(runner, tree):
    assert "không có tài khoản 'khong.co'" in runner.invoke(args=["users", "disable", "khong.co"]).output
    bad_unit = runner.invoke(args=["users", "grant", "reader", "--role", "reader", "--unit", "99999"])
    assert bad_unit.exit_code == 1 and "không có đơn vị mã '99999'" in bad_unit.output
    no_unit = runner.invoke(args=["users", "grant", "reader", "--role", "coordinator"])
    assert no_unit.exit_code == 1 and "Vui lòng chọn đơn vị" in no_unit.output
    bad_login = runner.invoke(args=["users", "create", "A B", "--name", "x"])
    assert bad_login.exit_code == 1 and "Tên đăng nhập gồm 3–64 ký tự" in bad_login.output
    taken = runner.invoke(args=["users", "create", "reader", "--name", "x"])
    assert taken.exit_code == 1 and "đã có người dùng" in taken.output


def test_demo_accounts_only_when_there_are_none(app, runner, tree):
    again = runner.invoke(args=["users", "demo", "--if-empty"])
    assert again.exit_code == 0 and "không tạo tài khoản minh hoạ" in again.output


def test_demo_accounts_on_an_empty_install(app, runner):
    from survey.db import get_session
    from survey.registry import units

    with app.app_context():
        session = get_session()
        province = units.add_unit(session, "33", "Tỉnh Hưng Yên", "province")
        units.add_unit(session, "11953", "Phường Phố Hiến", "ward", province)
        session.commit()
    out = runner.invoke(args=["users", "demo", "--if-empty"])
    assert out.exit_code == 0, out.output
    assert "Đăng nhập cán bộ: http://127.0.0.1:5000/staff/login" in out.output
    admin_pw = re.search(r"quản trị hệ thống: quantri / (\S+)", out.output).group(1)
    reader_pw = re.search(r"xem báo cáo của Phường Phố Hiến \(11953\): xem.baocao / (\S+)", out.output).group(1)
    assert admin_pw != reader_pw
    assert login(app.test_client(), "quantri", admin_pw).headers["Location"].endswith("/staff/password")
    assert login(app.test_client(), "xem.baocao", reader_pw).status_code == 302
    second = runner.invoke(args=["users", "demo", "--if-empty"])
    assert "không tạo tài khoản minh hoạ" in second.output


def test_english_when_the_locale_asks_for_it(runner, tree, monkeypatch):
    """Vietnamese unless LC_ALL/LC_MESSAGES/LANG names English; domain refusals follow too."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    created = runner.invoke(args=["users", "create", "le.thi.d", "--name", "Lê Thị D"])
    assert created.exit_code == 0 and "Shown once; it must be changed at the first log-in." in created.output
    assert "mật khẩu" not in created.output and otp(created.output)
    assert "no account 'khong.co'" in runner.invoke(args=["users", "disable", "khong.co"]).output
    no_unit = runner.invoke(args=["users", "grant", "le.thi.d", "--role", "coordinator"])
    assert no_unit.exit_code == 1 and "Vui lòng" not in no_unit.output and "unit" in no_unit.output.lower()
    assert re.search(r"le\.thi\.d\s+active\s+- \(password change pending\)", runner.invoke(args=["users", "list"]).output)
