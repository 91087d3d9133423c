"""Failed log-ins are throttled per account and per device, with the counters in the database
(the shared fixed-window `hit()`), so the limits hold across every app server.

A device is the staff device cookie set on the log-in page, or the address when a client
sends no cookie (a script). Only a keyed hash of either is stored. Only failures count; a
blocked account or device is refused before its password is even checked, until the window ends.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from flask import Request, Response, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import RateCounter
from ..ratelimit import hit

DEVICE_COOKIE = "staff_device"
DEFAULTS = {
    "STAFF_LOGIN_ACCOUNT_LIMIT": 10,  # failures per account per window
    "STAFF_LOGIN_DEVICE_LIMIT": 30,  # failures per device per window (several people may share a PC)
    "STAFF_LOGIN_WINDOW_SECONDS": 15 * 60,
}


def setting(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


def _key(kind: str, value: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return f"login-{kind}:" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:40]


def keys(request: Request, login: str) -> tuple[str, str]:
    device = request.cookies.get(DEVICE_COOKIE) or f"addr:{request.remote_addr}"
    return _key("a", login.strip().lower()), _key("d", device)


def _count(session: Session, key: str, window: int, now: float) -> int:
    start = int(now // window * window)
    return session.scalar(select(RateCounter.count).where(RateCounter.key == key, RateCounter.window_start == start)) or 0


def blocked(session: Session, request: Request, login: str, now: float | None = None) -> bool:
    """True while this account or this device has used up its failures in the current window."""
    now = time.time() if now is None else now
    account, device = keys(request, login)
    window = setting("STAFF_LOGIN_WINDOW_SECONDS")
    return (_count(session, account, window, now) >= setting("STAFF_LOGIN_ACCOUNT_LIMIT")
            or _count(session, device, window, now) >= setting("STAFF_LOGIN_DEVICE_LIMIT"))


def failed(session: Session, request: Request, login: str, now: float | None = None) -> None:
    """Count one failed log-in against the account and the device."""
    window = setting("STAFF_LOGIN_WINDOW_SECONDS")
    for key in keys(request, login):
        hit(session, key, window, now)


def ensure_device_cookie(request: Request, response: Response) -> None:
    if not request.cookies.get(DEVICE_COOKIE):
        response.set_cookie(DEVICE_COOKIE, secrets.token_urlsafe(24), max_age=365 * 24 * 3600,
                            httponly=True, samesite="Lax", secure=request.is_secure)
