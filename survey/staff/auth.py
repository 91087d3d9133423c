"""Log-in: the check of a log-in attempt (throttle, password, audit) and the Flask-Login wiring:
who the session cookie says the user is, and when that no longer holds.

The cookie (Flask's signed session: HttpOnly, SameSite=Lax, Secure behind HTTPS) carries the
account id, its session version and when the user logged in. A session ends when the account
is disabled or its password changes (the version moves), after STAFF_SESSION_HOURS since log-in,
or after STAFF_IDLE_MINUTES without a request. A tampered cookie fails its signature and
counts as no session at all.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Flask, Request, current_app, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, login_user, logout_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from ..db import get_session
from ..i18n import N_, _
from ..models import StaffUser
from . import accounts, audit, throttle

login_manager = LoginManager()

DEFAULTS = {"STAFF_SESSION_HOURS": 10, "STAFF_IDLE_MINUTES": 60}
LOGIN_AT, SEEN_AT = "staff_login_at", "staff_seen_at"


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    try:
        ident, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    now = time.time()
    hours = current_app.config.get("STAFF_SESSION_HOURS", DEFAULTS["STAFF_SESSION_HOURS"])
    idle = current_app.config.get("STAFF_IDLE_MINUTES", DEFAULTS["STAFF_IDLE_MINUTES"])
    if now - session.get(LOGIN_AT, 0) > hours * 3600 or now - session.get(SEEN_AT, 0) > idle * 60:
        g.staff_session_end = "expired"
        return None
    user = get_session().get(StaffUser, ident)
    if user is not None and not user.active:
        g.staff_session_end = "disabled"
        g.staff_disabled_user = user
        return None
    if user is None or user.session_version != version:
        g.staff_session_end = "ended"
        return None
    if now - session.get(SEEN_AT, 0) > 60:  # rewrite the cookie at most once a minute
        session[SEEN_AT] = now
    return user


class LoginRefused(Exception):
    """Why a log-in was refused, already translated, with the page's status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def attempt(db: Session, request: Request, login: str, password: str) -> StaffUser:
    """Check a log-in against the throttle and the password; count and audit a failure, audit a
    success. The caller commits either way (a failure's counters must be stored too)."""
    name = login.strip()[:64]
    if not name or not password:
        raise LoginRefused(_("Vui lòng nhập tên đăng nhập và mật khẩu."), 422)
    if throttle.blocked(db, request, name):
        audit.record(db, "login_throttled", actor_login=name)
        minutes = throttle.setting("STAFF_LOGIN_WINDOW_SECONDS") // 60
        raise LoginRefused(_("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {m} phút hoặc liên hệ quản trị hệ thống.",
                             m=minutes), 429)
    user = accounts.authenticate(db, name, password)
    if user is None:
        throttle.failed(db, request, name)
        known = accounts.by_login(db, name)
        audit.record(db, "login_failed", actor=known, actor_login=name,
                     reason="disabled" if known is not None and not known.active else "password")
        raise LoginRefused(_("Tên đăng nhập hoặc mật khẩu không đúng."), 401)
    user.last_login_at = datetime.now(UTC)
    audit.record(db, "login", actor=user)
    return user


def change_own_password(db: Session, request: Request, user: StaffUser, current: str, new: str, confirm: str) -> list[str]:
    """The password page's check: a wrong current password counts as a failed log-in (so a
    borrowed session cannot be used to guess it), then the rules. Empty list: changed and audited."""
    if throttle.blocked(db, request, user.login):
        audit.record(db, "login_throttled", actor=user, target="password")
        return [_("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {m} phút hoặc liên hệ quản trị hệ thống.",
                  m=throttle.setting("STAFF_LOGIN_WINDOW_SECONDS") // 60)]
    if not accounts.verify(user, current):
        throttle.failed(db, request, user.login)
        audit.record(db, "login_failed", actor=user, reason="current password on the password page")
        return [_("Mật khẩu hiện tại không đúng.")]
    if new != confirm:
        return [_("Hai lần nhập mật khẩu mới không khớp.")]
    problems = accounts.change_password(db, user, current, new)
    if not problems:
        audit.record(db, "password_changed", actor=user)
    return problems


def start_session(user: StaffUser) -> None:
    """Log `user` in on a fresh session (nothing from before the log-in is carried over)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session[LOGIN_AT] = session[SEEN_AT] = time.time()
    login_user(user)


def end_session() -> None:
    logout_user()
    session.clear()


END_MESSAGES = {
    "expired": N_("Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại."),
    "ended": N_("Phiên làm việc đã kết thúc (mật khẩu vừa được đổi hoặc cấp lại). Vui lòng đăng nhập lại."),
    "disabled": N_("Tài khoản này đã bị khoá. Vui lòng liên hệ quản trị hệ thống."),
}


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """No valid session: back to the log-in page, saying why, and returning here after it."""
    reason = g.get("staff_session_end")
    if reason == "disabled":
        db = get_session()
        audit.record(db, "session_refused", actor=g.staff_disabled_user, target=request.path)
        db.commit()
    if reason:
        session.pop("_user_id", None)
    flash(_(END_MESSAGES[reason]) if reason else _("Vui lòng đăng nhập để tiếp tục."), "info")
    nxt = request.full_path if request.method == "GET" else None
    return redirect(url_for("staff.login", next=nxt.rstrip("?") if nxt else None))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
