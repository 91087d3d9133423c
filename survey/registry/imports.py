"""Bulk registry maintenance from spreadsheets and the official list of administrative units.

Every importer processes the good rows and reports each bad one with its line and reason;
nothing is skipped silently. Re-importing a file is safe: rows already present are updated
(counters keep their public code, so printed QR posters stay valid).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import catalog
from ..models import Counter, Unit
from ..sheets import Report
from . import units

UNIT_COLUMNS = ("code", "name", "kind")
COUNTER_COLUMNS = ("unit_code", "code", "name", "questionnaire")
MAX_CODE = 32


def import_units(session: Session, rows: Iterable[tuple[int, dict[str, str]]]) -> Report:
    """Rows of code, name, kind, parent_code. A parent may come later in the file or exist already."""
    report = Report()
    known = {u.code: u for u in session.scalars(select(Unit))}
    pending: list[tuple[int, dict[str, str]]] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        code, name, kind = row.get("code", ""), row.get("name", ""), row.get("kind", "").lower()
        problem = (
            "code is empty" if not code else
            f"code longer than {MAX_CODE} characters" if len(code) > MAX_CODE else
            "name is empty" if not name else
            f"unknown kind '{kind}' (one of {', '.join(units.UNIT_KINDS)})" if kind not in units.UNIT_KINDS else
            f"code '{code}' appears twice in the file (first on line {seen[code]})" if code in seen else
            "a unit cannot be its own parent" if row.get("parent_code") == code else None
        )
        if problem:
            report.errors.append((line, problem))
            continue
        seen[code] = line
        pending.append((line, {**row, "kind": kind}))
    # Add rows whose parent is known, repeatedly, so files need not be sorted top-down.
    while pending:
        waiting = []
        for line, row in pending:
            parent_code = row.get("parent_code", "")
            if parent_code and parent_code not in known:
                waiting.append((line, row))
                continue
            _upsert_unit(session, known, line, row, known.get(parent_code) if parent_code else None, report)
        if len(waiting) == len(pending):
            for line, row in waiting:
                report.errors.append((line, f"parent_code '{row['parent_code']}' is not a known unit (nor a valid row of this file)"))
            break
        pending = waiting
    return report


def _upsert_unit(session: Session, known: dict[str, Unit], line: int, row: dict[str, str], parent: Unit | None,
                 report: Report) -> None:
    code, name, kind = row["code"], row["name"], row["kind"]
    unit = known.get(code)
    if unit is None:
        known[code] = units.add_unit(session, code, name, kind, parent)
        report.created += 1
        return
    if unit.parent_id != (parent.id if parent else None):
        report.errors.append((line, f"unit '{code}' exists under another parent; moving units is not supported by import"))
        return
    if (unit.name, unit.kind) == (name, kind):
        report.unchanged += 1
        return
    unit.name, unit.kind = name, kind
    report.updated += 1


def import_counters(session: Session, rows: Iterable[tuple[int, dict[str, str]]]) -> Report:
    """Rows of unit_code, code, name, questionnaire, fields (semicolon-separated field codes)."""
    report = Report()
    by_code = {u.code: u for u in session.scalars(select(Unit))}
    fields = units.FieldLookup(session)
    questionnaires = {row.key for row in catalog.list_latest(session)}
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        unit_code, code, name, key = row.get("unit_code", ""), row.get("code", ""), row.get("name", ""), row.get("questionnaire", "")
        codes = [c.strip() for c in row.get("fields", "").replace(",", ";").split(";") if c.strip()]
        unknown = [c for c in codes if fields.find(c) is None]
        problem = (
            f"unknown unit_code '{unit_code}'" if unit_code not in by_code else
            "code is empty" if not code else
            "name is empty" if not name else
            f"questionnaire '{key}' is not published (flask --app wsgi questionnaire list)" if key not in questionnaires else
            f"unknown field(s) {', '.join(repr(c) for c in unknown)}: use field codes or Vietnamese names "
            f"separated by ';': {fields.choices()}" if unknown else
            f"counter '{code}' of unit '{unit_code}' appears twice in the file (first on line {seen[(unit_code, code)]})"
            if (unit_code, code) in seen else None
        )
        if problem:
            report.errors.append((line, problem))
            continue
        seen[(unit_code, code)] = line
        unit = by_code[unit_code]
        chosen = list({f.code: f for f in (fields.find(c) for c in codes)}.values())
        codes = [f.code for f in chosen]
        counter = session.scalar(select(Counter).filter_by(unit_id=unit.id, code=code))
        if counter is None:
            units.add_counter(session, unit, code, name, key, chosen)
            report.created += 1
        elif (counter.name, counter.questionnaire_key, [f.code for f in counter.fields]) == (name, key, sorted(set(codes))):
            report.unchanged += 1
        else:
            counter.name, counter.questionnaire_key, counter.fields = name, key, chosen
            report.updated += 1
    session.flush()
    return report


def import_official(session: Session, province_code: int, communes: bool = True) -> Report:
    """The province and (optionally) its communes and wards from `vietnam-provinces` (current
    official codes: province as 2 digits, commune/ward as 5). Older, district-era units are
    imported from a spreadsheet with `units import`."""
    from vietnam_provinces import Province, Ward

    try:
        province = Province.from_code(province_code)
    except (ValueError, KeyError):
        raise ValueError(f"no province with code {province_code} in the official list") from None
    rows = [(0, {"code": f"{int(province.code):02d}", "name": province.name, "kind": "province"})]
    if communes:
        for ward in Ward.iter_by_province(province.code):
            kind = "ward" if ward.division_type.value == "phường" else "commune"
            rows.append((0, {"code": f"{int(ward.code):05d}", "name": ward.name, "kind": kind,
                             "parent_code": rows[0][1]["code"]}))
    return import_units(session, rows)
