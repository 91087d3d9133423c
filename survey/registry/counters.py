"""What a citizen's QR scan lands on: a counter found by its public code, and the lines that tell
the citizen where their answer will count (unit, counter, field, procedure)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..i18n import _
from ..models import Counter, Field, Procedure, Unit


def by_public_code(session: Session, public_code: str) -> Counter | None:
    """An active counter of an active unit. Exact match only: a mistyped code is simply not found."""
    if not 6 <= len(public_code) <= 32:
        return None
    return session.scalar(
        select(Counter).join(Unit)
        .where(Counter.public_code == public_code, Counter.active.is_(True), Unit.active.is_(True))
        .options(selectinload(Counter.fields))
    )


def chosen_field(counter: Counter, code: str | None) -> Field | None:
    """The field the answer is about: the counter's only field, or the one the citizen picked."""
    if len(counter.fields) == 1:
        return counter.fields[0]
    return next((f for f in counter.fields if f.code == code), None) if code else None


def field_name(field: Field, lang: str) -> str:
    return field.name_en if lang == "en" and field.name_en else field.name_vi


def procedure_name(procedure: Procedure, lang: str) -> str:
    return procedure.name_en if lang == "en" and procedure.name_en else procedure.name_vi


def tag_lines(unit: Unit, lang: str, counter: Counter | None = None, field: Field | None = None,
              procedure: Procedure | None = None, dossier_code: str | None = None) -> list[str]:
    lines = [unit.name]
    if counter is not None:
        lines.append(counter.name)
    if field is not None:
        lines.append(_("Lĩnh vực: {name}", name=field_name(field, lang)))
    if procedure is not None:
        lines.append(_("Thủ tục: {name}", name=procedure_name(procedure, lang)))
    if dossier_code:
        lines.append(_("Hồ sơ số: {code}", code=dossier_code))
    return lines
