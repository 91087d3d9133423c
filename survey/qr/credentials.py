"""Per-unit credentials for the one-stop software: an API key (stored only as a hash) and an
HMAC secret for offline-signed dossier links.

The server must verify links signed with the HMAC secret, so it keeps the secret, but never in
clear: it is stored wrapped (AES-256-GCM, bound to its key id) under the *link key*, which lives
in the configuration, not in the database: `SURVEY_LINK_KEY` when set, else the app's
SECRET_KEY, stretched with HKDF. A copy of the database or a backup alone therefore cannot mint
links. The price: the link key must be kept like the secret key, and changing it (or changing
SECRET_KEY while no separate link key is set) needs `units rewrap-secrets --old-key-file`, or
every unit's offline links stop validating. Rows written before wrapping existed hold the secret
in clear (no `v1.` prefix); they still verify, and `units rewrap-secrets` wraps them.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import Unit, UnitCredential

WRAPPED = "v1."  # prefix of a wrapped secret; a clear one (token_urlsafe) never contains "."
NONCE_BYTES = 12


class SecretUnavailable(Exception):
    """A stored secret that the configured link key cannot unwrap (the key changed, or the row
    was altered): the fix is `units rewrap-secrets --old-key-file` with the previous key."""


def _hash(api_key: str) -> str:
    # The key carries 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(api_key.encode()).hexdigest()


def link_key_material() -> str:
    """The configured link key: SURVEY_LINK_KEY, else SECRET_KEY (read as text either way)."""
    value = current_app.config.get("LINK_KEY") or current_app.config["SECRET_KEY"]
    return value if isinstance(value, str) else str(value)


@lru_cache(maxsize=8)
def _aead(material: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sipas unit hmac secret wrap v1").derive(material.encode())
    return AESGCM(key)


def wrap(secret: str, key_id: str, material: str) -> str:
    """The stored form of an HMAC secret: versioned, random nonce, authenticated with its key id
    (a wrapped secret copied onto another credential's row does not unwrap)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = _aead(material).encrypt(nonce, secret.encode(), key_id.encode())
    return WRAPPED + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")


def unwrap(stored: str, key_id: str, material: str) -> str:
    """The clear secret of a stored value; a clear legacy value is returned as it is."""
    if not is_wrapped(stored):
        return stored
    try:
        body = stored[len(WRAPPED):]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return _aead(material).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError):
        raise SecretUnavailable(key_id) from None


def is_wrapped(stored: str) -> bool:
    return stored.startswith(WRAPPED)


def hmac_secret(credential: UnitCredential) -> str:
    """The clear HMAC secret of a credential, unwrapped with the configured link key."""
    return unwrap(credential.secret_wrapped, credential.key_id, link_key_material())


def issue(session: Session, unit: Unit, revoke_others: bool = False) -> tuple[UnitCredential, str]:
    """A new credential for the unit; returns it with the API key, which is never stored in clear.
    The returned object also carries the clear HMAC secret (`.hmac_secret`), to be shown once."""
    now = datetime.now(UTC)
    if revoke_others:
        for old in session.scalars(select(UnitCredential).filter_by(unit_id=unit.id, revoked_at=None)):
            old.revoked_at = now
    key_id = secrets.token_urlsafe(6)  # 8 chars from [A-Za-z0-9_-]: never '.' or '|'
    api_key = f"{key_id}.{secrets.token_urlsafe(32)}"
    secret = secrets.token_urlsafe(32)
    credential = UnitCredential(unit_id=unit.id, key_id=key_id, api_key_hash=_hash(api_key),
                                secret_wrapped=wrap(secret, key_id, link_key_material()))
    credential.show_secret_once(secret)
    session.add(credential)
    session.flush()
    return credential, api_key


class CredentialError(ValueError):
    """A key id that cannot be revoked: unknown for the unit, or revoked already."""


def of_unit(session: Session, unit: Unit) -> list[UnitCredential]:
    """Every credential of the unit, newest first, revoked ones too (they explain dead links)."""
    return list(session.scalars(select(UnitCredential).filter_by(unit_id=unit.id).order_by(UnitCredential.id.desc())))


def active_count(session: Session, unit: Unit) -> int:
    return sum(c.revoked_at is None for c in of_unit(session, unit))


def revoke(session: Session, unit: Unit, key_id: str) -> UnitCredential:
    """Revoke one key of the unit: its API key stops working and links signed with it stop validating."""
    credential = session.scalar(select(UnitCredential).filter_by(unit_id=unit.id, key_id=key_id))
    if credential is None:
        known = ", ".join(c.key_id for c in of_unit(session, unit)) or _("chưa có")
        raise CredentialError(_("đơn vị '{unit}' không có khoá '{key}' (các khoá của đơn vị: {known})",
                                unit=unit.code, key=key_id, known=known))
    if credential.revoked_at is not None:
        raise CredentialError(_("khoá '{key}' của đơn vị '{unit}' đã bị thu hồi trước đây", key=key_id, unit=unit.code))
    credential.revoked_at = datetime.now(UTC)
    session.flush()
    return credential


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


@dataclass
class Rewrap:
    """What `rewrap` did: rows rewritten, rows already in the wanted form, key ids nothing could unwrap."""

    changed: int = 0
    unchanged: int = 0
    unreadable: list[str] = field(default_factory=list)


def rewrap(session: Session, material: str, old_material: str | None = None, clear: bool = False) -> Rewrap:
    """Bring every stored secret (revoked ones too) under the link key `material`: clear legacy
    rows are wrapped, rows wrapped under `old_material` re-wrapped. With `clear`, write them back
    in clear instead (only before downgrading below migration 0007). Adds to the session only."""
    result = Rewrap()
    for credential in session.scalars(select(UnitCredential).order_by(UnitCredential.id)):
        stored = credential.secret_wrapped
        secret = None
        for candidate in (material, old_material):
            if candidate is None:
                continue
            try:
                secret = unwrap(stored, credential.key_id, candidate)
                current = not is_wrapped(stored) or candidate == material
                break
            except SecretUnavailable:
                continue
        if secret is None:
            result.unreadable.append(credential.key_id)
            continue
        if clear:
            wanted = None if not is_wrapped(stored) else secret
        else:
            wanted = None if is_wrapped(stored) and current else wrap(secret, credential.key_id, material)
        if wanted is None:
            result.unchanged += 1
        else:
            credential.secret_wrapped = wanted
            result.changed += 1
    session.flush()
    return result
