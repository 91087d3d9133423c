"""Per-unit credentials for the one-stop software: an API key (stored only as a hash) and an
HMAC secret (stored, since the server must verify links signed with it offline)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Unit, UnitCredential


def _hash(api_key: str) -> str:
    # The key carries 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(api_key.encode()).hexdigest()


def issue(session: Session, unit: Unit, revoke_others: bool = False) -> tuple[UnitCredential, str]:
    """A new credential for the unit; returns it with the API key, which is never stored in clear."""
    now = datetime.now(UTC)
    if revoke_others:
        for old in session.scalars(select(UnitCredential).filter_by(unit_id=unit.id, revoked_at=None)):
            old.revoked_at = now
    key_id = secrets.token_urlsafe(6)  # 8 chars from [A-Za-z0-9_-]: never '.' or '|'
    api_key = f"{key_id}.{secrets.token_urlsafe(32)}"
    credential = UnitCredential(unit_id=unit.id, key_id=key_id, api_key_hash=_hash(api_key),
                                hmac_secret=secrets.token_urlsafe(32))
    session.add(credential)
    session.flush()
    return credential, api_key


def authenticate(session: Session, api_key: str) -> UnitCredential | None:
    """The live credential an API key belongs to, compared in constant time; None if unknown or revoked."""
    key_id, dot, _rest = api_key.partition(".")
    if not dot or not key_id:
        return None
    credential = by_key_id(session, key_id)
    if credential is None or not hmac.compare_digest(credential.api_key_hash, _hash(api_key)):
        return None
    return credential


def by_key_id(session: Session, key_id: str) -> UnitCredential | None:
    return session.scalar(select(UnitCredential).filter_by(key_id=key_id, revoked_at=None))


def signing_credential(session: Session, unit: Unit) -> UnitCredential | None:
    """The unit's newest live credential: the one batch links are signed with."""
    return session.scalar(
        select(UnitCredential).filter_by(unit_id=unit.id, revoked_at=None).order_by(UnitCredential.id.desc()).limit(1)
    )
