"""Phúc tra: a re-check subsample of a draw's returned paper forms, drawn reproducibly.

The returned forms are ordered by sha256(seed ":" respondent code), as the draw orders dossiers
(analysis.sampling.selection_key), and the first k are re-checked: k is a number, or a percentage
of the returned forms rounded up. The seed, the size asked for, how many forms were returned and
the codes picked are kept, so anyone with the list of returned codes re-derives the subsample.
"""
from __future__ import annotations

import json
import math
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.sampling import selection_key

from ..i18n import _
from ..models import PaperRecheck, SampleMember
from .draws import new_seed

SIZE = re.compile(r"([0-9]{1,6}(?:[.,][0-9]{1,2})?)\s*(%?)")


class RecheckError(ValueError):
    """A re-check that cannot be drawn; the message is translated and names the fix."""


def returned_codes(session: Session, draw_id: int) -> list[str]:
    return list(session.scalars(select(SampleMember.respondent_code).where(
        SampleMember.draw_id == draw_id, SampleMember.status == "paper_returned")))


def size_of(text: str, returned: int) -> int:
    """How many forms "10%" or "5" asks for out of `returned` (a percentage rounds up)."""
    found = SIZE.fullmatch((text or "").strip())
    if found is None:
        raise RecheckError(_("Cỡ phúc tra: ghi một số phiếu (ví dụ 5) hoặc một tỷ lệ (ví dụ 10%)."))
    value = float(found.group(1).replace(",", "."))
    if found.group(2):
        if not 0 < value <= 100:
            raise RecheckError(_("Tỷ lệ phúc tra phải lớn hơn 0% và không quá 100%."))
        return math.ceil(round(value * returned / 100, 9))
    if not value.is_integer() or value < 1:
        raise RecheckError(_("Số phiếu phúc tra phải là số nguyên từ 1 trở lên."))
    if value > returned:
        raise RecheckError(_("Chỉ có {n} phiếu giấy đã nhận: không thể phúc tra {k} phiếu.", n=returned, k=int(value)))
    return int(value)


def ordered(codes: list[str], seed: str) -> list[str]:
    return sorted(codes, key=lambda code: (selection_key(seed, code), code))


def draw(session: Session, draw_id: int, size: str, seed: str | None, login: str) -> PaperRecheck:
    """Draw and keep a re-check subsample of the returned paper forms. Never commits."""
    seed = (seed or "").strip() or new_seed()
    if not seed.isascii() or not seed.isprintable() or not 1 <= len(seed) <= 64:
        raise RecheckError(_("Hạt giống (seed): 1–64 ký tự ASCII in được."))
    codes = returned_codes(session, draw_id)
    if not codes:
        raise RecheckError(_("Chưa có phiếu giấy nào được nhập trong lần rút này: chưa có gì để phúc tra."))
    k = size_of(size, len(codes))
    row = PaperRecheck(draw_id=draw_id, seed=seed, size=(size or "").strip()[:12], returned=len(codes),
                       codes=json.dumps(ordered(codes, seed)[:k]), actor_login=login)
    session.add(row)
    session.flush()
    return row


def picked(row: PaperRecheck) -> list[str]:
    return json.loads(row.codes)


def rechecks(session: Session, draw_id: int) -> list[PaperRecheck]:
    return list(session.scalars(select(PaperRecheck).where(PaperRecheck.draw_id == draw_id).order_by(PaperRecheck.id.desc())))
