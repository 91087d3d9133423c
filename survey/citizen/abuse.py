"""Abuse resistance that spares honest citizens.

Counter Wi-Fi and mobile carriers put many phones behind one IP address, so nothing here is
keyed on the IP alone: limits are per place (a counter, a dossier link's unit, a
questionnaire link) and per device, a device being a random first-party cookie, remembered
in the session as well, so dropping the cookie alone does not make a new device. Only a keyed
hash of (device, place) is stored on the response, so a device cannot be followed from one
place to another. A client that drops every cookie must load a new form for each post (the
CSRF token lives in the session, and each form's ticket answers once): what stops it is the
per-IP limit at the reverse proxy (README, Production).

Numbers (config keys, override with SURVEY_<KEY>):
  DEVICE_REPEAT_MINUTES = 10   a second answer from one device at one place within 10 min is
                               stored but flagged 'device_repeat'
  DEVICE_LIMIT = 10            more than 10 answers from one device at one place in an hour
  DEVICE_LIMIT_SECONDS = 3600  are refused with 429 (a person does not queue ten times an hour)
  PLACE_BURST_LIMIT = 60       more than 60 answers at one place in 10 minutes are logged as a
  PLACE_BURST_SECONDS = 600    warning for the operator (a busy counter serves one person a
                               minute), never flagged on the answers: a flood must not get the
                               honest answers given at the same time excluded from reports
Nothing is deleted; reports exclude flagged responses by default.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, request, session
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as HttpResponse

from ..errors import abort_with
from ..i18n import _
from ..models import Response
from ..ratelimit import hit
from ..responses import Stored

DEFAULTS = {
    "DEVICE_REPEAT_MINUTES": 10,
    "DEVICE_LIMIT": 10,
    "DEVICE_LIMIT_SECONDS": 3600,
    "PLACE_BURST_LIMIT": 60,
    "PLACE_BURST_SECONDS": 600,
}
DEVICE_COOKIE = "sipas_device"
DEVICE_COOKIE_DAYS = 365
DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def setting(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


@dataclass(frozen=True)
class Device:
    """The visitor's device: the cookie, else the one remembered in the session, else a new one
    (set on the response by `remember`)."""

    id: str
    new: bool

    @classmethod
    def from_request(cls) -> Device:
        existing = request.cookies.get(DEVICE_COOKIE, "")
        if DEVICE_ID.fullmatch(existing):
            return cls(existing, False)
        remembered = session.get(DEVICE_COOKIE, "")
        if isinstance(remembered, str) and DEVICE_ID.fullmatch(remembered):
            return cls(remembered, True)  # the cookie was dropped: the same device, told again
        return cls(secrets.token_urlsafe(16), True)

    def hash(self, place: str) -> str:
        """Keyed hash of (device, place): linkable within one place only, meaningless without the key."""
        key = current_app.config["SECRET_KEY"].encode()
        return hmac.new(key, f"device|{place}|{self.id}".encode(), hashlib.sha256).hexdigest()

    def remember(self, response: HttpResponse) -> HttpResponse:
        if session.get(DEVICE_COOKIE) != self.id:
            session[DEVICE_COOKIE] = self.id
        if self.new:
            response.set_cookie(DEVICE_COOKIE, self.id, max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
                                httponly=True, samesite="Lax", secure=request.is_secure)
        return response


# Built once: this runs inside every submit's transaction.
_EARLIER = (
    select(func.count()).select_from(Response)
    .where(Response.device_hash == bindparam("device"), Response.submitted_at >= bindparam("since"),
           Response.id != bindparam("id"))
)


_LATEST = (
    select(func.max(Response.submitted_at)).select_from(Response)
    .where(Response.device_hash == bindparam("device"), Response.submitted_at >= bindparam("since"))
)


def recent_answer(db: Session, device_hash: str) -> datetime | None:
    """When this device last answered at this place, if within the repeat window: the form then
    says so, so that Back or a restored tab does not lead to answering twice without meaning to."""
    since = datetime.now(UTC) - timedelta(minutes=setting("DEVICE_REPEAT_MINUTES"))
    latest = db.scalar(_LATEST, {"device": device_hash, "since": since})
    return latest.replace(tzinfo=UTC) if latest is not None and latest.tzinfo is None else latest


def check_submission(db: Session, response: Stored, place: str) -> None:
    """Within the submit transaction: refuse a device flooding one place (429); flag repeats
    from one device; log bursts at one place. `place` is e.g. 'c12' (counter), 'u3' (a dossier
    link's unit) or 'q:sipas-2017' (a questionnaire link)."""
    if response.device_hash:
        n = hit(db, f"d:{response.device_hash[:40]}", setting("DEVICE_LIMIT_SECONDS"))
        if n > setting("DEVICE_LIMIT"):
            abort_with(429, _("Thiết bị này đã gửi quá nhiều phiếu tại đây trong một giờ qua. Ông/Bà vui lòng thử lại sau."))
        minutes = setting("DEVICE_REPEAT_MINUTES")
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        earlier = db.scalar(_EARLIER, {"device": response.device_hash, "since": since, "id": response.id}) or 0
        if earlier:
            response.flags.append(("device_repeat", f"{earlier} earlier from this device here within {minutes} min"))
    n = hit(db, f"p:{place}", setting("PLACE_BURST_SECONDS"))
    if n == setting("PLACE_BURST_LIMIT") + 1:  # once per window
        current_app.logger.warning("burst at %s: more than %d answers within %d min", place,
                                   setting("PLACE_BURST_LIMIT"), setting("PLACE_BURST_SECONDS") // 60)
