"""Fieldwork material: the list of sampled people for the post office or the phone team, each
with a personal single-use link (a dossier link of survey.qr.dossiers, valid SAMPLE_LINK_DAYS
from today) to answer online. It holds personal data: the callers audit every export, and the
CLI writes it readable by its owner only.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import Field, FrameDossier, SampleDraw, SampleMember, Unit
from ..qr import credentials, dossiers
from ..qr.codes import dossier_url
from ..sheets import safe_cell, write_csv, write_rows
from .tracking import in_field

SAMPLE_LINK_DAYS = 60
COLUMNS = ("respondent_code", "selected", "reserve_rank", "status", "stratum", "unit_code", "unit_name", "field", "dossier_code",
           "completed_on", "procedure", "name", "address", "phone", "channel", "survey_link", "link_note")


def members(session: Session, row: SampleDraw, *, reserves: bool = True) -> list[tuple[SampleMember, FrameDossier, Unit, Field]]:
    stmt = (select(SampleMember, FrameDossier, Unit, Field).join(FrameDossier, FrameDossier.id == SampleMember.dossier_id)
            .join(Unit, Unit.id == FrameDossier.unit_id).join(Field, Field.id == FrameDossier.field_id)
            .where(SampleMember.draw_id == row.id).order_by(SampleMember.id))
    if not reserves:
        stmt = stmt.where(SampleMember.selected.is_(True))
    return [tuple(r) for r in session.execute(stmt)]  # type: ignore[misc]


def _link(session: Session, dossier: FrameDossier, unit: Unit, fld: Field, signers: dict, base: str | None,
          days_valid: int) -> tuple[str, str]:
    if unit.id not in signers:
        signers[unit.id] = credentials.signing_credential(session, unit)
    credential = signers[unit.id]
    if credential is None:
        return "", _("đơn vị {unit} chưa có khoá ký liên kết: quản trị đơn vị cấp khoá API rồi xuất lại", unit=unit.code)
    days = (date.today() - dossier.completed_on).days + days_valid
    try:
        minted = dossiers.mint(session, credential, dossier.dossier_code, fld.code, "", dossier.completed_on, max(days, 1))
    except dossiers.MintConflict:
        return "", _("hồ sơ đã có liên kết đánh giá trên giấy biên nhận: dùng liên kết đó hoặc phiếu giấy")
    except (dossiers.MintError, credentials.SecretUnavailable) as exc:
        return "", _("không tạo được liên kết: {why}", why=str(exc))
    if minted.row.used_at is not None:
        return "", _("hồ sơ này đã được đánh giá qua liên kết trên giấy biên nhận")
    return dossier_url(minted.token, base), ""


def rows(session: Session, row: SampleDraw, *, base: str | None = None, days_valid: int = SAMPLE_LINK_DAYS) -> Iterator[list]:
    """One list per member: COLUMNS in order. Minting writes dossier-link rows: the caller commits."""
    signers: dict[int, object] = {}
    for member, dossier, unit, fld in members(session, row):
        link, note = (_link(session, dossier, unit, fld, signers, base, days_valid) if in_field(member) else ("", ""))
        yield [member.respondent_code, "x" if member.selected else "", member.reserve_rank or "", member.status,
               member.stratum, unit.code,
               unit.name, fld.name_vi, dossier.dossier_code, dossier.completed_on.isoformat(), dossier.procedure or "",
               dossier.name or "", dossier.address or "", dossier.phone or "", dossier.channel or "", link, note]


def to_csv_file(path: Path, data: list[list]) -> None:
    write_csv(path, COLUMNS, data, private=True)


def to_csv_bytes(data: list[list]) -> bytes:
    """UTF-8 with BOM (Excel reads it as UTF-8), every cell through safe_cell."""
    out = io.StringIO(newline="")
    write_rows(out, COLUMNS, data)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx_bytes(data: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Mẫu khảo sát"))
    sheet.append(list(COLUMNS))
    for r in data:
        sheet.append([safe_cell(v) for v in r])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_xlsx_file(path: Path, data: list[list]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(to_xlsx_bytes(data))
    os.chmod(path, 0o600)
