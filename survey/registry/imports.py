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
from ..i18n import _
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
            _("cột code đang trống") if not code else
            _("code dài quá {max} ký tự", max=MAX_CODE) if len(code) > MAX_CODE else
            _("cột name đang trống") if not name else
            _("kind '{kind}' không hợp lệ (một trong: {kinds})", kind=kind, kinds=", ".join(units.UNIT_KINDS))
            if kind not in units.UNIT_KINDS else
            _("code '{code}' xuất hiện hai lần trong tệp (lần đầu ở dòng {first})", code=code, first=seen[code])
            if code in seen else
            _("một đơn vị không thể là đơn vị cấp trên của chính nó") if row.get("parent_code") == code else None
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
                report.errors.append((line, _("parent_code '{parent}' không phải đơn vị đã có (cũng không phải một dòng hợp lệ "
                                              "của tệp này)", parent=row["parent_code"])))
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
        report.errors.append((line, _("đơn vị '{code}' đã có dưới một đơn vị cấp trên khác; nhập tệp không chuyển đơn vị "
                                      "sang cấp trên khác", code=code)))
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
            _("unit_code '{unit}' không phải đơn vị đã có", unit=unit_code) if unit_code not in by_code else
            _("cột code đang trống") if not code else
            _("cột name đang trống") if not name else
            _("phiếu '{key}' chưa được công bố (flask --app wsgi questionnaire list)", key=key)
            if key not in questionnaires else
            _("lĩnh vực không có: {unknown}; dùng mã lĩnh vực hoặc tên tiếng Việt, cách nhau bằng ';': {choices}",
              unknown=", ".join(repr(c) for c in unknown), choices=fields.choices()) if unknown else
            _("quầy '{code}' của đơn vị '{unit}' xuất hiện hai lần trong tệp (lần đầu ở dòng {first})",
              code=code, unit=unit_code, first=seen[(unit_code, code)])
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
        raise ValueError(_("danh mục chính thức không có tỉnh mã {code}", code=province_code)) from None
    rows = [(0, {"code": f"{int(province.code):02d}", "name": province.name, "kind": "province"})]
    if communes:
        for ward in Ward.iter_by_province(province.code):
            kind = "ward" if ward.division_type.value == "phường" else "commune"
            rows.append((0, {"code": f"{int(ward.code):05d}", "name": ward.name, "kind": kind,
                             "parent_code": rows[0][1]["code"]}))
    return import_units(session, rows)
