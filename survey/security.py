"""Protections every blueprint shares.

- The CSRF guard (Flask-WTF) on every state-changing request. The citizen blueprint calls it
  itself so that a stale token shows the form again with the answers kept; the API exempts
  itself and authenticates by key instead.
- Security headers on every response: a Content Security Policy without inline script,
  no framing, no MIME sniffing, a same-origin referrer policy (a receipt's single-use link
  never reaches another site, while our own forms still send the Referer that Flask-WTF's
  HTTPS check needs), HSTS when served over HTTPS.
- Cookies marked Secure whenever the request came over HTTPS (directly or through a trusted
  proxy's X-Forwarded-Proto), so one configuration serves http://localhost and production.
- Control characters refused at the door: no honest browser sends a NUL in a URL or a form,
  and PostgreSQL cannot store one in text.
- The secret key read as the string it is, and refused when it is short or well known.
"""
from __future__ import annotations

import os
import re

from flask import Flask, Request, Response, abort, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from .errors import abort_with
from .i18n import _

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"

# C0 controls and DEL; a form may keep tab, line feed and carriage return.
CONTROL_IN_URL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_FORM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

MIN_SECRET_LENGTH = 32
WELL_KNOWN_SECRETS = frozenset({"dev", "development", "secret", "changeme", "change-me", "test", "password", "sipas"})


class SecretKeyError(RuntimeError):
    """The configured secret key cannot protect sessions, form tickets and device hashes."""


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with Secure set whenever the request is HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


KEYS = ("SECRET_KEY", "LINK_KEY")  # signs sessions, tickets, device hashes; wraps units' HMAC secrets


def keys_from_environment(app: Flask) -> None:
    """SURVEY_SECRET_KEY and SURVEY_LINK_KEY as the literal strings: from_prefixed_env would turn
    '12345' into an int and 'true' into a bool, which later break signing with a 500."""
    for name in KEYS:
        raw = os.environ.get(f"SURVEY_{name}")
        if raw is not None:
            app.config[name] = raw


def check_keys(config: dict) -> None:
    """Refuse to start with a key an attacker could guess (tests configure their own)."""
    for name in KEYS:
        key = config.get(name)
        if key is None or (key == "" and name == "LINK_KEY"):
            continue
        if not isinstance(key, str) or len(key) < MIN_SECRET_LENGTH or key.strip().lower() in WELL_KNOWN_SECRETS:
            raise SecretKeyError(
                f"SURVEY_{name} must be a random string of at least {MIN_SECRET_LENGTH} characters, the same on "
                "every app server; generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                + (" (or unset it to use the key generated in instance/secret_key)" if name == "SECRET_KEY" else "")
            )


def refuse_control_characters(req: Request) -> None:
    """A NUL or other control character: in the path no page has that name (404); in the query
    or a posted form field it is a request no page of ours makes (400)."""
    if CONTROL_IN_URL.search(req.path):
        abort(404)
    if any(CONTROL_IN_URL.search(k) or CONTROL_IN_URL.search(v) for k, v in req.args.items(multi=True)):
        abort_with(400, _("Đường dẫn chứa ký tự không hợp lệ."))
    if req.method == "POST" and req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if any(CONTROL_IN_FORM.search(k) or CONTROL_IN_FORM.search(v) for k, v in req.form.items(multi=True)):
            abort_with(400, _("Dữ liệu gửi lên chứa ký tự điều khiển không hợp lệ. Vui lòng xoá ký tự đó và gửi lại."))


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.session_interface = SessionInterface()

    @app.before_request
    def screen_input() -> None:
        refuse_control_characters(request)

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
