"""Short personal links printed on invitation letters, to type by hand: `/m/<respondent code>-<check>`,
e.g. `/m/M12-000034-K7PQRX`. They carry no personal data: the respondent code is a sample
member's number and the check is 6 characters of an HMAC under the link key (30 bits: guessing
one takes about a billion tries, and a hit only opens one person's single-use form). A visit
mints (or finds) the member's signed dossier link and redirects to it, so the `/d/` page keeps
answering once, expiring and saying so; a letter keeps working after its unit's API key is rotated.
The check has no 0/O, 1/I/L look-alikes, and a code typed in lower case still resolves.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import upsert
from ..models import DossierToken, Field, FrameDossier, SampleMember, Unit
from ..qr import credentials, dossiers
from .tracking import in_field

CHECK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes
CHECK_LENGTH = 6
SHORT = re.compile(r"(?P<code>M[0-9]{1,9}-[0-9]{6,7})-(?P<check>[0-9A-Z]{6})")
LINK_DAYS = 60  # as the fieldwork list: valid that long after the first mint


class UnknownShortLink(LookupError):
    """Malformed, forged, or naming no member in the field: the visitor gets the dossier link's 404."""


@lru_cache(maxsize=8)
def _key(material: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sipas letter short link v1").derive(material.encode())


def check(respondent_code: str) -> str:
    digest = hmac.new(_key(credentials.link_key_material()), respondent_code.encode("ascii"), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(CHECK_LENGTH):
        number, rest = divmod(number, len(CHECK_ALPHABET))
        out.append(CHECK_ALPHABET[rest])
    return "".join(out)


def short_code(respondent_code: str) -> str:
    """The part after /m/ for a member."""
    return f"{respondent_code}-{check(respondent_code)}"


def parse(text: str) -> str:
    """The respondent code of a typed short code; UnknownShortLink if it is malformed or forged."""
    match = SHORT.fullmatch(text.strip().upper())
    if match is None:
        raise UnknownShortLink("malformed")
    if not hmac.compare_digest(match["check"], check(match["code"])):
        raise UnknownShortLink("bad check")
    return match["code"]


def member_row(session: Session, respondent_code: str) -> tuple[SampleMember, FrameDossier, Unit, Field] | None:
    row = session.execute(
        select(SampleMember, FrameDossier, Unit, Field).join(FrameDossier, FrameDossier.id == SampleMember.dossier_id)
        .join(Unit, Unit.id == FrameDossier.unit_id).join(Field, Field.id == FrameDossier.field_id)
        .where(SampleMember.respondent_code == respondent_code)).first()
    return tuple(row) if row is not None else None  # type: ignore[return-value]


def mint_for(session: Session, dossier: FrameDossier, unit: Unit, fld: Field, signers: dict) -> dossiers.Minted:
    """The member's dossier link (created once, then found again). Raises dossiers.MintConflict,
    dossiers.MintError, credentials.SecretUnavailable, or LookupError when the unit has no key."""
    if unit.id not in signers:
        signers[unit.id] = credentials.signing_credential(session, unit)
    credential = signers[unit.id]
    if credential is None:
        raise LookupError(unit.code)
    days = max((date.today() - dossier.completed_on).days + LINK_DAYS, 1)
    return dossiers.mint(session, credential, dossier.dossier_code, fld.code, "", dossier.completed_on, days)


@dataclass(frozen=True)
class Prepared:
    """A member's link as a letter needs it: its expiry, or why there is none."""

    expires_at: datetime | None
    problem: str | None  # a reason code: no_key, used, conflict, bad_code


def prepare(session: Session, rows: list[tuple[SampleMember, FrameDossier, Unit, Field]]) -> dict[int, Prepared]:
    """What mint_for would do for each member, in a few statements for a whole draw: create the
    missing dossier-token rows (race-free), then judge every row as dossiers.mint does (used,
    bound to another field, procedure or date). Keyed by member id. The caller commits."""
    signers: dict[int, bool] = {}
    wanted: dict[tuple[int, str], tuple[SampleMember, FrameDossier, Field]] = {}
    out: dict[int, Prepared] = {}
    for member, dossier, unit, fld in rows:
        if unit.id not in signers:
            signers[unit.id] = credentials.signing_credential(session, unit) is not None
        if not signers[unit.id]:
            out[member.id] = Prepared(None, "no_key")
            continue
        try:
            dossiers.check_dossier_code(dossier.dossier_code)
        except dossiers.MintError:
            out[member.id] = Prepared(None, "bad_code")
            continue
        wanted[(unit.id, dossier.dossier_code)] = (member, dossier, fld)
    keys = list(wanted)
    table = DossierToken.__table__
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        values = []
        for unit_id, code in part:
            _member, dossier, fld = wanted[(unit_id, code)]
            days = max((date.today() - dossier.completed_on).days + LINK_DAYS, 1)
            values.append({"unit_id": unit_id, "dossier_code": code, "field_id": fld.id, "procedure_id": None,
                           "completed_on": dossier.completed_on, "expires_at": dossiers.expires_at(dossier.completed_on, days)})
        session.execute(upsert.insert(session, table).values(values)
                        .on_conflict_do_nothing(index_elements=["unit_id", "dossier_code"]))
        for unit_id in {u for u, _c in part}:
            codes = [c for u, c in part if u == unit_id]
            for token in session.execute(select(table).where(table.c.unit_id == unit_id, table.c.dossier_code.in_(codes))):
                member, dossier, fld = wanted[(unit_id, token.dossier_code)]
                if (token.field_id, token.procedure_id, token.completed_on) != (fld.id, None, dossier.completed_on):
                    out[member.id] = Prepared(None, "conflict")
                elif token.used_at is not None:
                    out[member.id] = Prepared(None, "used")
                else:
                    out[member.id] = Prepared(token.expires_at, None)
    return out


def resolve(session: Session, text: str) -> str:
    """The signed dossier token a short link leads to (may write the token row: the caller commits)."""
    found = member_row(session, parse(text))
    if found is None:
        raise UnknownShortLink("no such member")
    member, dossier, unit, fld = found
    if not in_field(member) or not unit.active:
        raise UnknownShortLink("not in the field")
    try:
        return mint_for(session, dossier, unit, fld, {}).token
    except (dossiers.MintConflict, dossiers.MintError, credentials.SecretUnavailable, LookupError):
        raise UnknownShortLink("no link can be made") from None
