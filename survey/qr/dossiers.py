"""Single-use links bound to one dossier: the signed token, minting it (API, CSV batch) and
spending it when the citizen's answer is stored.

The token is the same whether the server mints it or the unit's one-stop software computes it
offline with its HMAC secret (README § Per-dossier links):

    message = "1|" key_id "|" dossier_code "|" field_code "|" procedure_code "|" YYYYMMDD
    payload = base64url(UTF-8 bytes of message), no "=" padding
    sig     = base64url(first 12 bytes of HMAC-SHA256(key = UTF-8 bytes of the secret,
                                                       msg = ASCII bytes of payload)), no padding
    URL     = BASE "/d/" payload "." sig

field_code and procedure_code may be empty; the server leaves field_code empty when a procedure
is given, since the procedure implies its field. The link is valid until the end of the day
(Vietnam time) DOSSIER_LINK_DAYS after the completion date, and answers once: the DossierToken
row (one per unit and dossier code) is created at mint or at first submit and spent in the
submit transaction.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import upsert
from ..i18n import _
from ..models import DossierToken, Field, Procedure, Unit, UnitCredential
from ..sheets import Report, parse_date
from . import credentials

log = logging.getLogger(__name__)

VERSION = "1"
SIG_BYTES = 12  # 96 bits: forging a link means guessing this
# fullmatch only: '$' would also accept a trailing newline (a link ending in %0A)
TOKEN = re.compile(r"(?P<payload>[A-Za-z0-9_-]{16,400})\.(?P<sig>[A-Za-z0-9_-]{16})")
CODE = re.compile(r"[A-Za-z0-9._-]{1,60}")
DAY = re.compile(r"[0-9]{8}")
# control, format (right-to-left marks, zero-width), surrogate, line and paragraph separators:
# invisible or misleading on a receipt and in a spreadsheet, and never part of a real dossier code
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
MAX_DOSSIER_CODE = 64
VIETNAM = timezone(timedelta(hours=7))  # no daylight saving


class InvalidLink(ValueError):
    """Malformed, forged, altered, or signed with an unknown or revoked key."""


class AlreadyUsed(Exception):
    """The dossier was evaluated already (possibly by a concurrent submit a moment ago)."""


class MintError(ValueError):
    """A mint request that cannot be honoured; `field` names the offending input. The message is
    Vietnamese first (`_()`): `qr dossiers` and the frame import say it in their user's language;
    the API answers in English (survey.qr.api)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class MintConflict(Exception):
    """The dossier already has a link with a different field, procedure or completion date."""


@dataclass(frozen=True)
class LinkData:
    key_id: str
    dossier_code: str
    field_code: str
    procedure_code: str
    completed_on: date

    def message(self) -> str:
        return "|".join((VERSION, self.key_id, self.dossier_code, self.field_code, self.procedure_code,
                         self.completed_on.strftime("%Y%m%d")))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(payload: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode("ascii"), hashlib.sha256).digest()[:SIG_BYTES])


def sign(data: LinkData, secret: str) -> str:
    """The URL token of a link (the part after /d/)."""
    payload = _b64(data.message().encode())
    return f"{payload}.{_signature(payload, secret)}"


def parse(token: str) -> tuple[LinkData, str, str]:
    """Split a token into its data, payload and signature, without checking the signature."""
    match = TOKEN.fullmatch(token)
    if not match:
        raise InvalidLink("malformed")
    payload, sig = match["payload"], match["sig"]
    try:
        message = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidLink("malformed") from None
    parts = message.split("|")
    if len(parts) != 6 or parts[0] != VERSION:
        raise InvalidLink("unknown layout")
    try:
        if not DAY.fullmatch(parts[5]):  # strptime would take '2026111' or non-ASCII digits
            raise ValueError(parts[5])
        completed_on = datetime.strptime(parts[5], "%Y%m%d").date()
        dossier_code = check_dossier_code(parts[2])
    except ValueError:  # MintError is one too: an offline signer sent a code we cannot store
        raise InvalidLink("bad date or dossier code") from None
    if dossier_code != parts[2]:
        raise InvalidLink("dossier code with surrounding spaces")
    if completed_on > latest_completion():
        raise InvalidLink("completed in the future")  # also keeps 9999-12-31 away from date arithmetic
    return LinkData(parts[1], dossier_code, parts[3], parts[4], completed_on), payload, sig


def check_dossier_code(code: str) -> str:
    """A dossier code as received on the receipt: 1–64 visible characters, no '|'."""
    code = code.strip()
    if not code or len(code) > MAX_DOSSIER_CODE:
        raise MintError("dossier_code", _("dossier_code phải có từ 1 đến {n} ký tự", n=MAX_DOSSIER_CODE))
    if "|" in code:
        raise MintError("dossier_code", _("dossier_code không được chứa ký tự '|'"))
    hidden = next((c for c in code if unicodedata.category(c) in REFUSED_CATEGORIES), None)
    if hidden is not None:
        raise MintError("dossier_code", _("dossier_code không được chứa ký tự điều khiển hay ký tự ẩn ({char} {name})",
                                          char=f"U+{ord(hidden):04X}", name=unicodedata.name(hidden, "control")))
    return code


def latest_completion() -> date:
    """The latest completion date a link may carry: tomorrow in Vietnam (clocks differ a little)."""
    return datetime.now(VIETNAM).date() + timedelta(days=1)


def expires_at(completed_on: date, days: int) -> datetime:
    """End of the last valid day, Vietnam time, as a UTC instant."""
    return datetime.combine(completed_on + timedelta(days=days + 1), time(0), tzinfo=VIETNAM).astimezone(UTC)


@dataclass
class OpenLink:
    """A verified link and what it is bound to, as the citizen's page needs it."""

    data: LinkData
    unit: Unit
    field: Field | None
    procedure: Procedure | None
    expires_at: datetime
    used: bool

    @property
    def expired(self) -> bool:
        return datetime.now(UTC) >= self.expires_at


def verify(session: Session, token: str) -> tuple[LinkData, UnitCredential]:
    """The link's data and the credential that signed it; InvalidLink if anything is off."""
    data, payload, sig = parse(token)
    credential = credentials.by_key_id(session, data.key_id)
    # Compute the signature even for an unknown key so timing does not tell which keys exist.
    secret = "unknown key"
    if credential is not None:
        try:
            secret = credentials.hmac_secret(credential)
        except credentials.SecretUnavailable:
            log.error("unit credential %s cannot be unwrapped with the configured link key: "
                      "run `flask --app wsgi units rewrap-secrets --old-key-file`", credential.key_id)
            credential = None
    expected = _signature(payload, secret)
    if credential is None or not hmac.compare_digest(expected, sig):
        raise InvalidLink("bad signature")
    return data, credential


def open_link(session: Session, token: str, days: int) -> OpenLink:
    """Verify a visited link and look up its state. A validly signed link that names an unknown
    field or procedure is refused like a forged one (and logged for the unit's vendor): storing
    the response with the tag silently dropped would misfile it in every report by field."""
    data, credential = verify(session, token)
    unit = session.get(Unit, credential.unit_id)
    if unit is None or not unit.active:
        raise InvalidLink("unit inactive")
    row = session.scalar(select(DossierToken).filter_by(unit_id=unit.id, dossier_code=data.dossier_code))
    procedure = session.scalar(select(Procedure).filter_by(code=data.procedure_code)) if data.procedure_code else None
    field = session.scalar(select(Field).filter_by(code=data.field_code)) if data.field_code else None
    if row is not None:  # the minted row is the reference when it exists
        procedure = session.get(Procedure, row.procedure_id) if row.procedure_id else None
        field = session.get(Field, row.field_id) if row.field_id else None
    else:
        if (data.procedure_code and procedure is None) or (data.field_code and field is None):
            log.warning("dossier link of unit %s names unknown field/procedure %r/%r",
                        unit.code, data.field_code, data.procedure_code)
            raise InvalidLink("unknown field or procedure")
        if field is None and procedure is not None:
            field = session.get(Field, procedure.field_id)
    return OpenLink(
        data=data, unit=unit, field=field, procedure=procedure,
        expires_at=row.expires_at if row else expires_at(data.completed_on, days),
        used=row is not None and row.used_at is not None,
    )


def _insert_token(session: Session, unit_id: int, dossier_code: str, field: Field | None,
                  procedure: Procedure | None, completed_on: date, expires: datetime) -> bool:
    """Create the dossier's row unless it exists (race-free); True if this call created it."""
    stmt = upsert.insert(session, DossierToken.__table__).values(
        unit_id=unit_id, dossier_code=dossier_code, field_id=field.id if field else None,
        procedure_id=procedure.id if procedure else None, completed_on=completed_on, expires_at=expires,
    ).on_conflict_do_nothing(index_elements=["unit_id", "dossier_code"]).returning(DossierToken.__table__.c.id)
    return session.execute(stmt).scalar_one_or_none() is not None


def spend(session: Session, link: OpenLink) -> None:
    """Mark the dossier evaluated inside the submit transaction. The conditional UPDATE lets
    exactly one of two simultaneous submits through; the other gets AlreadyUsed."""
    _insert_token(session, link.unit.id, link.data.dossier_code, link.field, link.procedure,
                  link.data.completed_on, link.expires_at)
    result = session.execute(
        update(DossierToken)
        .where(DossierToken.unit_id == link.unit.id, DossierToken.dossier_code == link.data.dossier_code,
               DossierToken.used_at.is_(None))
        # the day only: an exact time would let anyone holding the database pair the dossier with
        # the response stored in the same instant, and the form promises it is not linked
        .values(used_at=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise AlreadyUsed(link.data.dossier_code)


@dataclass(frozen=True)
class Minted:
    token: str
    row: DossierToken
    created: bool

    @property
    def expires_at(self) -> datetime:
        return self.row.expires_at


def _lookup(session: Session, model: type[Field] | type[Procedure], name: str, code: str | None):
    if code in (None, ""):
        return None
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise MintError(name, _("{name} phải là một mã gồm chữ cái, chữ số, '.', '-' hoặc '_'", name=name))
    found = session.scalar(select(model).filter_by(code=code))
    if found is None:
        raise MintError(name, _("không có mã {name} '{code}'", name=name, code=code))
    return found


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise MintError("completed_on", _("thiếu completed_on (YYYY-MM-DD)"))
    try:
        return parse_date(value)
    except ValueError as exc:
        raise MintError("completed_on", f"completed_on: {exc}") from None


def mint(session: Session, credential: UnitCredential, dossier_code: object, field_code: object,
         procedure_code: object, completed_on: object, days: int) -> Minted:
    """Issue (or return again) the link of a dossier of the credential's unit. Idempotent: the
    same dossier gives the same link; a different field, procedure or date is a MintConflict."""
    if not isinstance(dossier_code, str):
        raise MintError("dossier_code", _("thiếu dossier_code (dạng văn bản)"))
    code = check_dossier_code(dossier_code)
    secret = credentials.hmac_secret(credential)  # before anything is written: SecretUnavailable leaves no row
    field = _lookup(session, Field, "field", field_code)  # type: ignore[arg-type]
    procedure = _lookup(session, Procedure, "procedure", procedure_code)  # type: ignore[arg-type]
    if procedure is not None:
        if field is not None and procedure.field_id != field.id:
            raise MintError("procedure", _("thủ tục '{procedure}' không thuộc lĩnh vực '{field}'", procedure=procedure.code,
                                           field=field.code))
        field = field or session.get(Field, procedure.field_id)
    done = _to_date(completed_on)
    if done > latest_completion():
        raise MintError("completed_on", _("completed_on là ngày trong tương lai"))
    expires = expires_at(done, days)
    if expires <= datetime.now(UTC):
        raise MintError("completed_on", _("completed_on đã cách đây hơn {days} ngày: liên kết sẽ hết hạn ngay", days=days))
    created = _insert_token(session, credential.unit_id, code, field, procedure, done, expires)
    row = session.scalar(select(DossierToken).filter_by(unit_id=credential.unit_id, dossier_code=code))
    assert row is not None
    if (row.field_id, row.procedure_id, row.completed_on) != (field.id if field else None,
                                                               procedure.id if procedure else None, done):
        raise MintConflict(code)
    # The procedure implies its field: leaving the field out keeps the receipt's QR code smaller.
    field_code = field.code if field is not None and procedure is None else ""
    data = LinkData(credential.key_id, code, field_code, procedure.code if procedure else "", done)
    return Minted(token=sign(data, secret), row=row, created=created)


BATCH_COLUMNS = ("dossier_code", "unit_code", "completed_on")


def mint_batch(session: Session, rows: Iterable[tuple[int, dict[str, str]]], days: int) -> tuple[list[dict], Report]:
    """Mint links for rows of a dossier list (dossier_code, unit_code, field, procedure,
    completed_on), each signed with its unit's newest credential. Bad rows are reported by line."""
    report = Report()
    out: list[dict] = []
    units: dict[str, Unit | None] = {}
    signers: dict[int, UnitCredential | None] = {}
    for line, row in rows:
        unit_code = row.get("unit_code", "")
        if unit_code not in units:
            units[unit_code] = session.scalar(select(Unit).filter_by(code=unit_code)) if unit_code else None
        unit = units[unit_code]
        if unit is None:
            report.errors.append((line, _("không có đơn vị mã '{code}' (unit_code)", code=unit_code) if unit_code
                                  else _("cột unit_code đang trống")))
            continue
        if unit.id not in signers:
            signers[unit.id] = credentials.signing_credential(session, unit)
        credential = signers[unit.id]
        if credential is None:
            report.errors.append((line, _("đơn vị '{code}' chưa có khoá API: chạy `units credentials {code}`", code=unit.code)))
            continue
        try:
            minted = mint(session, credential, row.get("dossier_code", ""), row.get("field", ""),
                          row.get("procedure", ""), row.get("completed_on", ""), days)
        except MintError as exc:
            report.errors.append((line, str(exc)))
            continue
        except MintConflict:
            report.errors.append((line, _("hồ sơ này đã có liên kết với lĩnh vực, thủ tục hoặc ngày khác")))
            continue
        except credentials.SecretUnavailable:
            report.errors.append((line, _("không mở được bí mật HMAC của đơn vị '{code}' bằng khoá liên kết đang cấu hình: "
                                          "chạy `units rewrap-secrets --old-key-file` với khoá cũ", code=unit.code)))
            continue
        if minted.created:
            report.created += 1
        else:
            report.unchanged += 1
        out.append({"line": line, "dossier_code": minted.row.dossier_code, "unit_code": unit.code,
                    "token": minted.token, "expires_at": minted.expires_at, "status": "new" if minted.created else "existing"})
    return out, report
