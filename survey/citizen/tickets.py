"""Form tickets: the signed, single-use submission id each rendered form carries.

A ticket says when the form was rendered and is bound to the page it was rendered for (its
path, which names the questionnaire, the counter or the dossier link), signed with the
app's secret key. So a post proves which render it answers:

- the render time behind the speeder flag comes from the server, not from the visitor;
- an invented id, or one carried over from another page, is refused;
- one render stores at most one response: the ticket is the response's idempotency key.

Format: `<nonce:16>.<rendered, ms since epoch>.<HMAC-SHA256 truncated to 128 bits:22>`
(53 characters, URL-safe ASCII).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from flask import current_app

TICKET = re.compile(r"[A-Za-z0-9_-]{16}\.[0-9]{13}\.[A-Za-z0-9_-]{22}")
MAX_AGE_MS = 24 * 3600 * 1000  # as long as the CSRF token (WTF_CSRF_TIME_LIMIT)
CLOCK_SKEW_MS = 60 * 1000  # app servers' clocks may differ a little


class InvalidTicket(ValueError):
    """Not a ticket this server signed for this page (forged, altered or from elsewhere)."""


class ExpiredTicket(ValueError):
    """A ticket older than MAX_AGE_MS: the page was left open too long."""


@dataclass(frozen=True)
class Ticket:
    value: str
    rendered_ms: int

    def elapsed_ms(self, now_ms: int | None = None) -> int:
        return max(0, (now_ms if now_ms is not None else _now_ms()) - self.rendered_ms)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _signature(place: str, nonce: str, rendered_ms: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, f"form-ticket|{place}|{nonce}|{rendered_ms}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue(place: str, rendered_ms: int | None = None) -> str:
    """A new ticket for a form rendered now (or at `rendered_ms`) for `place`."""
    nonce = secrets.token_urlsafe(12)
    rendered = _now_ms() if rendered_ms is None else rendered_ms
    return f"{nonce}.{rendered:013d}.{_signature(place, nonce, rendered)}"


def is_well_formed(value: str) -> bool:
    return TICKET.fullmatch(value) is not None


def check(value: str, place: str, now_ms: int | None = None) -> Ticket:
    """The ticket if this server issued it for `place` and it is fresh; raises otherwise."""
    if not is_well_formed(value):
        raise InvalidTicket(value[:60])
    nonce, rendered, signature = value.split(".")
    if not hmac.compare_digest(signature, _signature(place, nonce, int(rendered))):
        raise InvalidTicket(value)
    age = (now_ms if now_ms is not None else _now_ms()) - int(rendered)
    if age < -CLOCK_SKEW_MS:
        raise InvalidTicket(value)
    if age > MAX_AGE_MS:
        raise ExpiredTicket(value)
    return Ticket(value, int(rendered))
