"""`flask users`: staff accounts from the server's shell, for the first administrator and for
when no administrator can log in. Every change is audited like its web counterpart."""
from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..models import StaffUser, Unit
from ..staff import accounts, audit, scope
from .messages import SpeakingGroup, say

users_cli = SpeakingGroup("users", help=say("Tài khoản cán bộ: tạo, khoá, mở khoá, cấp lại mật khẩu, liệt kê, cấp vai trò.",
                                            "Staff accounts: create, disable, enable, reset, list, grant."))
ROLE = click.Choice(sorted(scope.ROLES))


def _user(session: Session, login: str) -> StaffUser:
    user = accounts.by_login(session, login)
    if user is None:
        raise click.ClickException(say(f"không có tài khoản '{login}' (xem: flask --app wsgi users list)",
                                       f"no account '{login}' (see: flask --app wsgi users list)"))
    return user


def _unit(session: Session, code: str | None) -> Unit | None:
    if not code:
        return None
    unit = session.scalar(select(Unit).filter_by(code=code))
    if unit is None:
        raise click.ClickException(say(f"không có đơn vị mã '{code}' (xem: flask --app wsgi counters list)",
                                       f"no unit with code '{code}' (see: flask --app wsgi counters list)"))
    return unit


def _grant(session: Session, user: StaffUser, role: str, unit: Unit | None) -> None:
    try:
        scope.grant(session, user, role, unit, None)
    except scope.ScopeError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(session, "role_granted", actor_login="cli", unit=unit, target=user.login, role=role)


def _password(user: StaffUser, password: str, first: bool) -> None:
    """A one-time password, printed once."""
    click.echo(say(f"tên đăng nhập:          {user.login}\nmật khẩu dùng một lần: {password}",
                   f"login:             {user.login}\none-time password: {password}"))
    click.echo(say("Chỉ hiển thị một lần; phải đổi ở lần đăng nhập " + ("đầu tiên." if first else "tiếp theo."),
                   "Shown once; it must be changed at the " + ("first" if first else "next") + " log-in."))


@users_cli.command("create")
@click.argument("login")
@click.option("--name", "full_name", required=True, help="Full name, e.g. \"Nguyễn Văn A\".")
@click.option("--role", type=ROLE, default=None, help="Grant this role at once.")
@click.option("--unit", "unit_code", default=None, help="Unit code the role applies to (and the units below it).")
def users_create(login: str, full_name: str, role: str | None, unit_code: str | None) -> None:
    """Create account LOGIN with a one-time password (printed once; changed at first log-in)."""
    session = db.get_session()
    try:
        user, password = accounts.create_user(session, login, full_name)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(session, "user_created", actor_login="cli", target=user.login)
    if role:
        _grant(session, user, role, _unit(session, unit_code))
    session.commit()
    _password(user, password, first=True)


@users_cli.command("grant")
@click.argument("login")
@click.option("--role", type=ROLE, required=True)
@click.option("--unit", "unit_code", default=None, help="Unit code (not for system_admin).")
def users_grant(login: str, role: str, unit_code: str | None) -> None:
    """Grant LOGIN a role on a unit and the units below it."""
    session = db.get_session()
    user = _user(session, login)
    _grant(session, user, role, _unit(session, unit_code))
    session.commit()
    click.echo(f"{user.login}: {role}" + (say(f" trên đơn vị {unit_code}", f" on {unit_code}") if unit_code else ""))


@users_cli.command("disable")
@click.argument("login")
def users_disable(login: str) -> None:
    """Disable LOGIN; its open sessions end at their next request."""
    _set_active(login, False)


@users_cli.command("enable")
@click.argument("login")
def users_enable(login: str) -> None:
    """Enable LOGIN again."""
    _set_active(login, True)


def _set_active(login: str, active: bool) -> None:
    """Disable or enable an account, audited as the CLI's."""
    session = db.get_session()
    user = _user(session, login)
    accounts.set_active(session, user, active)
    audit.record(session, "user_enabled" if active else "user_disabled", actor_login="cli", target=user.login)
    session.commit()
    click.echo(say(f"{user.login}: đã mở khoá", f"{user.login}: enabled") if active
               else say(f"{user.login}: đã khoá", f"{user.login}: disabled"))


@users_cli.command("reset")
@click.argument("login")
def users_reset(login: str) -> None:
    """A new one-time password for LOGIN (printed once); its open sessions end."""
    session = db.get_session()
    user = _user(session, login)
    password = accounts.reset_password(session, user)
    audit.record(session, "password_reset", actor_login="cli", target=user.login)
    session.commit()
    _password(user, password, first=False)


@users_cli.command("list")
def users_list() -> None:
    """Accounts with their state and roles."""
    session = db.get_session()
    for user in session.scalars(select(StaffUser).order_by(StaffUser.login)):
        roles = ", ".join(g.role + (f"@{g.unit.code}" if g.unit else "") for g in user.roles) or "-"
        state = say("hoạt động", "active") if user.active else say("đã khoá", "disabled")
        pending = say(" (chưa đổi mật khẩu lần đầu)", " (password change pending)") if user.must_change_password else ""
        click.echo(f"{user.login:<24} {state:<9} {roles}{pending}  {user.full_name}")


@users_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when any account exists (for make run).")
@click.option("--base", default="http://127.0.0.1:5000", show_default=True, help="Where the app is served.")
def users_demo(if_empty: bool, base: str) -> None:
    """A demo system administrator and a demo reader of one commune, with generated passwords."""
    session = db.get_session()
    if accounts.count_users(session):
        if if_empty:
            click.echo(say("Đã có tài khoản cán bộ: không tạo tài khoản minh hoạ (xem: flask --app wsgi users list).",
                           "Staff accounts exist already: no demo accounts created (flask --app wsgi users list)."))
            return
        raise click.ClickException(say("đã có tài khoản cán bộ; tạo thêm bằng: flask --app wsgi users create",
                                       "staff accounts exist already; add one with: flask --app wsgi users create"))
    commune = session.scalar(select(Unit).where(Unit.kind.in_(("commune", "ward")), Unit.active).order_by(Unit.path))
    if commune is None:
        raise click.ClickException(say("cây đơn vị chưa có xã hoặc phường: nạp dữ liệu minh hoạ trước (flask --app wsgi demo load)",
                                       "no commune or ward in the unit tree: load demo data first (flask --app wsgi demo load)"))
    admin, admin_pw = accounts.create_user(session, "quantri", "Quản trị hệ thống (demo)")
    _grant(session, admin, "system_admin", None)
    reader, reader_pw = accounts.create_user(session, "xem.baocao", f"Cán bộ xem báo cáo – {commune.name} (demo)")
    _grant(session, reader, "reader", commune)
    for user in (admin, reader):
        audit.record(session, "user_created", actor_login="cli", target=user.login, demo=True)
    session.commit()
    login = f"{base.rstrip('/')}/staff/login"
    click.echo(say(f"Đăng nhập cán bộ: {login} (đổi mật khẩu dùng một lần ở lần đăng nhập đầu)",
                   f"Staff log-in: {login} (change each one-time password at the first log-in)"))
    click.echo(say(f"  quản trị hệ thống: {admin.login} / {admin_pw}", f"  system administrator: {admin.login} / {admin_pw}"))
    click.echo(say(f"  xem báo cáo của {commune.name} ({commune.code}): {reader.login} / {reader_pw}",
                   f"  reader of {commune.name} ({commune.code}): {reader.login} / {reader_pw}"))


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
