"""The unit tree, fields, procedures and counters: domain functions taking a session."""
from __future__ import annotations

import secrets
from pathlib import Path

import yaml
from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import Counter, Field, Procedure, Unit

DATA = Path(__file__).resolve().parent / "data"
UNIT_KINDS = ("province", "district", "commune", "ward", "department", "centre", "hospital", "school", "other")


def load_fields(session: Session, path: Path = DATA / "fields.yaml") -> int:
    """Insert fields that are missing (by code); existing ones keep their edited names."""
    known = set(session.scalars(select(Field.code)))
    added = 0
    for row in yaml.safe_load(path.read_text(encoding="utf-8")):
        if row["code"] not in known:
            session.add(Field(code=row["code"], name_vi=row["vi"], name_en=row["en"]))
            added += 1
    session.flush()
    return added


def _spaced(text: str) -> str:
    """Whitespace runs as one space, ends trimmed: 'Đất  đai ' and 'Đất đai' are the same name."""
    return " ".join(text.split())


class FieldLookup:
    """Fields found by code ('dat-dai') or Vietnamese name ('Đất đai'), as clerks type them.

    Case and diacritics must match exactly ('Dat dai' is not 'Đất đai': dropping marks would
    merge different words in Vietnamese); spaces are forgiven. `choices` lists what is valid,
    for an error message that says how to fix the cell.
    """

    def __init__(self, session: Session) -> None:
        self.fields = list(session.scalars(select(Field).order_by(Field.code)))
        self._by = {f.code: f for f in self.fields} | {_spaced(f.name_vi): f for f in self.fields}

    def find(self, text: str) -> Field | None:
        return self._by.get(_spaced(text))

    def choices(self) -> str:
        return "; ".join(f"{f.code} ({f.name_vi})" for f in self.fields) or "none: run flask --app wsgi db upgrade"

    def unknown(self, text: str) -> str:
        return f"unknown field '{text}': use a field code or its Vietnamese name: {self.choices()}"


def load_reference_data(session: Session) -> tuple[int, int]:
    """The national reference lists (fields, then procedures): insert missing codes; (fields, procedures) added."""
    return load_fields(session), load_procedures(session)


def load_procedures(session: Session, path: Path = DATA / "procedures.yaml") -> int:
    fields = {f.code: f.id for f in session.scalars(select(Field))}
    known = set(session.scalars(select(Procedure.code)))
    added = 0
    for row in yaml.safe_load(path.read_text(encoding="utf-8")):
        if row["code"] not in known:
            session.add(Procedure(code=row["code"], name_vi=row["vi"], name_en=row.get("en"), field_id=fields[row["field"]]))
            added += 1
    session.flush()
    return added


def add_unit(session: Session, code: str, name: str, kind: str, parent: Unit | None = None) -> Unit:
    """Create a unit and set its materialised path (ids from the root)."""
    if kind not in UNIT_KINDS:
        raise ValueError(f"unknown unit kind '{kind}' (one of {', '.join(UNIT_KINDS)})")
    unit = Unit(code=code, name=name, kind=kind, parent=parent)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    return unit


class MoveError(ValueError):
    """A move that would break the tree; the message is already translated."""


PATH_LENGTH = 400  # Unit.path's column size


def move_unit(session: Session, unit: Unit, new_parent: Unit) -> str:
    """Hang `unit` (and its whole subtree) under `new_parent`; returns the old parent's code.

    The subtree's materialised paths are rewritten in one UPDATE (old prefix → new prefix), so
    every prefix query (scope, reports, posters, frames) sees the new tree at once. Counts and
    responses are kept by unit id, never by path, so they follow the unit unchanged."""
    if new_parent.id == unit.id or new_parent.path.startswith(unit.path):
        raise MoveError(_("Không thể chuyển đơn vị {code} vào chính nó hoặc vào đơn vị cấp dưới của nó.", code=unit.code))
    if unit.parent_id == new_parent.id:
        raise MoveError(_("Đơn vị {code} đã trực thuộc {parent}.", code=unit.code, parent=new_parent.code))
    old, new = unit.path, f"{new_parent.path}{unit.id}/"
    deepest = session.scalar(select(func.max(func.length(Unit.path))).where(Unit.path.startswith(old))) or len(old)
    if deepest - len(old) + len(new) > PATH_LENGTH:
        raise MoveError(_("Cây đơn vị sẽ quá sâu sau khi chuyển; vui lòng chọn đơn vị cấp trên khác."))
    previous = unit.parent.code if unit.parent else ""
    session.flush()
    session.execute(update(Unit).where(Unit.path.startswith(old))
                    .values(path=literal(new) + func.substr(Unit.path, len(old) + 1))
                    .execution_options(synchronize_session=False))
    session.execute(update(Unit).where(Unit.id == unit.id).values(parent_id=new_parent.id)
                    .execution_options(synchronize_session=False))
    session.expire_all()  # every loaded unit re-reads its path and parent
    return previous


def subtree_ids(session: Session, unit: Unit) -> list[int]:
    return list(session.scalars(select(Unit.id).where(Unit.path.startswith(unit.path))))


# No look-alikes (0/o, 1/l/i, -/_): the code is also printed under the QR for typing by hand.
PUBLIC_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
PUBLIC_CODE_LENGTH = 12  # 31^12 ≈ 2^59: unguessable, still short enough for a QR at level M on A6


def new_public_code() -> str:
    return "".join(secrets.choice(PUBLIC_CODE_ALPHABET) for _ in range(PUBLIC_CODE_LENGTH))


def add_counter(session: Session, unit: Unit, code: str, name: str, questionnaire_key: str, fields: list[Field]) -> Counter:
    counter = Counter(unit=unit, code=code, name=name, questionnaire_key=questionnaire_key,
                      public_code=new_public_code(), fields=list(fields))
    session.add(counter)
    session.flush()
    return counter
