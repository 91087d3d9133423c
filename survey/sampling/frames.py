"""The sampling frame: completed dossiers imported from a one-stop software export.

A file is read through survey.sheets (the shared bounded reader); a title row or merged header
cells above the table are skipped by finding the header row; a column mapping (target → header)
is guessed from the headers or taken from the mapping saved for the source. Every row is
accepted, reported unchanged (already in the frame with the same details) or rejected with its
line, the reason and the fix: nothing is dropped silently, and importing a file again changes
nothing. Repairs (a phone that lost its leading 0 in Excel, decomposed Vietnamese tones) are
made and listed.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..i18n import N_, _
from ..models import Field, FrameDossier, FrameImport, FrameSource, Unit
from ..qr.dossiers import MintError, check_dossier_code
from ..sheets import SheetError, parse_date, read_cells

REQUIRED = ("dossier_code", "unit", "field", "completed_on")
OPTIONAL = ("procedure", "name", "address", "phone", "channel")
TARGETS = REQUIRED + OPTIONAL
PERSONAL = ("name", "address", "phone")
TARGET_LABELS = {
    "dossier_code": N_("Mã hồ sơ"), "unit": N_("Đơn vị (mã hoặc tên)"), "field": N_("Lĩnh vực (mã hoặc tên)"),
    "completed_on": N_("Ngày hoàn thành"), "procedure": N_("Thủ tục"), "name": N_("Họ và tên"),
    "address": N_("Địa chỉ"), "phone": N_("Số điện thoại"), "channel": N_("Hình thức nộp hồ sơ"),
}
# header words (without tones, lower case) that suggest a target; the first match wins
GUESSES = {
    "dossier_code": ("ma ho so", "so ho so", "ma hs", "dossier"),
    "completed_on": ("ngay hoan thanh", "ngay tra", "ngay co ket qua", "completed", "ngay ket thuc"),
    "procedure": ("thu tuc", "procedure", "ten tthc"),
    "field": ("linh vuc", "field"),
    "unit": ("don vi", "co quan", "unit", "xa", "phuong"),
    "name": ("ho va ten", "ho ten", "nguoi nop", "chu ho so", "name", "ten"),
    "address": ("dia chi", "address"),
    "phone": ("dien thoai", "sdt", "so dt", "phone", "di dong"),
    "channel": ("hinh thuc", "kenh", "channel", "cach nop"),
}
HEADER_SEARCH_LINES = 30
EXCEL_EPOCH = date(1899, 12, 30)
PHONE = re.compile(r"0[0-9]{9,10}")


class FrameError(ValueError):
    """The file or the mapping cannot be used at all; the message says why and what to do."""


@dataclass
class Table:
    """The file's header row (its line and names) and the data rows below it."""

    header_line: int
    headers: list[str]
    rows: list[tuple[int, list[str]]]


@dataclass
class ImportReport:
    created: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, fix
    notes: list[tuple[int, str]] = field(default_factory=list)  # repairs made
    import_id: int | None = None

    def summary(self) -> str:
        return _("{created} hồ sơ mới, {unchanged} đã có (không đổi), {rejected} dòng bị từ chối.",
                 created=self.created, unchanged=self.unchanged, rejected=len(self.rejected))


def plain(text: str) -> str:
    """Lower case without tones or punctuation runs, for matching headers and names."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def read_table(path: str | Path) -> Table:
    """The header row is the first of the top lines that fills at least half as many cells as the
    fullest of them: title rows and merged header cells above the table fill one or two."""
    lines = list(read_cells(path))
    top = [(line, cells) for line, cells in lines[:HEADER_SEARCH_LINES] if any(cells)]
    if not top:
        raise FrameError(_("Tệp không có dữ liệu."))
    widest = max(sum(1 for c in cells if c) for _line, cells in top)
    found = next(((ln, c) for ln, c in top if sum(1 for x in c if x) * 2 >= widest and sum(1 for x in c if x) >= 2), None)
    if found is None:
        raise FrameError(_("Không tìm thấy dòng tiêu đề của bảng (một dòng có ít nhất các cột mã hồ sơ, đơn vị, "
                           "lĩnh vực, ngày hoàn thành) trong {n} dòng đầu.", n=HEADER_SEARCH_LINES))
    line, cells = found
    index = next(i for i, (ln, _c) in enumerate(lines) if ln == line)
    headers = [unicodedata.normalize("NFC", c) for c in cells]
    return Table(line, headers, [(ln, c) for ln, c in lines[index + 1:]])


def guess_mapping(headers: Iterable[str]) -> dict[str, str]:
    """target → header, from the words of the headers (each header used once)."""
    headers = [h for h in headers if h]
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for target, words in GUESSES.items():
        for header in headers:
            if header in used:
                continue
            p = plain(header)
            if p == target.replace("_", " ") or any(p == w or p.startswith(w + " ") or f" {w}" in f" {p}" for w in words):
                mapping[target] = header
                used.add(header)
                break
    return mapping


def saved_mapping(session: Session, unit: Unit, source: str) -> dict[str, str] | None:
    row = session.scalar(select(FrameSource).filter_by(unit_id=unit.id, name=source))
    return json.loads(row.mapping) if row else None


def sources(session: Session, unit: Unit) -> list[FrameSource]:
    return list(session.scalars(select(FrameSource).filter_by(unit_id=unit.id).order_by(FrameSource.name)))


def mapping_for(session: Session, unit: Unit, source: str, headers: list[str]) -> dict[str, str]:
    """The mapping saved for the source when all its headers are still in the file, else a guess."""
    saved = saved_mapping(session, unit, source)
    if saved and all(h in headers for h in saved.values()):
        return saved
    return guess_mapping(headers)


def check_mapping(mapping: dict[str, str], headers: list[str]) -> list[str]:
    """What is wrong with a mapping (translated), or nothing."""
    problems = []
    for target in REQUIRED:
        if not mapping.get(target):
            problems.append(_("Chưa chọn cột cho “{target}” (bắt buộc).", target=_(TARGET_LABELS[target])))
    for target, header in mapping.items():
        if target not in TARGETS:
            problems.append(_("Cột đích không hợp lệ: {target}.", target=target))
        elif header and header not in headers:
            problems.append(_("Tệp không có cột “{header}”.", header=header))
    chosen = [h for h in mapping.values() if h]
    if len(chosen) != len(set(chosen)):
        problems.append(_("Mỗi cột của tệp chỉ được chọn cho một mục."))
    return problems


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- values


def to_date(text: str) -> date:
    """dd/mm/yyyy, yyyy-mm-dd (as survey.sheets reads them) or an Excel serial day number."""
    if text.isascii() and text.isdigit() and 20000 <= int(text) <= 80000:
        return EXCEL_EPOCH + timedelta(days=int(text))
    return parse_date(text)


def to_phone(text: str) -> tuple[str | None, str | None]:
    """(phone, note): +84/84 becomes 0, a number that lost its leading 0 in Excel gets it back;
    a value that is no Vietnamese phone number is left out, and the note says so."""
    digits = re.sub(r"[\s.\-()]", "", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if digits.isascii() and digits.isdigit() and len(digits) in (9, 10) and not digits.startswith("0"):
        return "0" + digits, _("số điện thoại {raw} thiếu số 0 đầu (Excel đã bỏ): đã sửa thành 0{raw}", raw=digits)
    if PHONE.fullmatch(digits):
        return digits, None
    return None, _("số điện thoại “{raw}” không hợp lệ: để trống; sửa trong tệp nguồn nếu cần gọi điện", raw=text[:30])


class _Lookup:
    """Units of the import's subtree and all fields, by code or by name (tones and case ignored)."""

    def __init__(self, session: Session, root: Unit) -> None:
        units = session.scalars(select(Unit).where(Unit.path.startswith(root.path))).all()
        self.units = {u.code: u for u in units}
        self.unit_names: dict[str, Unit | None] = {}
        for u in units:
            key = plain(u.name)
            self.unit_names[key] = None if key in self.unit_names else u  # ambiguous names need the code
        fields = session.scalars(select(Field)).all()
        self.fields = {f.code: f for f in fields}
        self.field_names = {plain(f.name_vi): f for f in fields} | {plain(f.name_en): f for f in fields}

    def unit(self, text: str) -> Unit | None:
        return self.units.get(text) or self.unit_names.get(plain(text))

    def field(self, text: str) -> Field | None:
        return self.fields.get(text) or self.field_names.get(plain(text))


def _rows(table: Table, mapping: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    where = {target: table.headers.index(header) for target, header in mapping.items() if header}
    for line, cells in table.rows:
        if not any(cells):
            continue
        yield line, {t: unicodedata.normalize("NFC", cells[i]) if i < len(cells) else "" for t, i in where.items()}


def import_frame(session: Session, root: Unit, path: str | Path, *, source: str, mapping: dict[str, str] | None = None,
                 filename: str | None = None, actor_login: str | None = None) -> ImportReport:
    """Import a frame file for the subtree of `root`; saves the mapping under `source`. Never commits."""
    path = Path(path)
    try:
        table = read_table(path)
    except SheetError as exc:
        raise FrameError(str(exc)) from None
    mapping = {t: h for t, h in (mapping or mapping_for(session, root, source, table.headers)).items() if h}
    problems = check_mapping(mapping, table.headers)
    if problems:
        raise FrameError(" ".join(problems))
    lookup = _Lookup(session, root)
    report = ImportReport()
    parsed: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    for line, row in _rows(table, mapping):
        missing = [t for t in REQUIRED if not row.get(t)]
        if missing:
            names = ", ".join(f"{_(TARGET_LABELS[t])} ({mapping[t]})" for t in missing)
            report.rejected.append((line, _("thiếu {names}", names=names), _("điền giá trị vào tệp nguồn rồi nhập lại")))
            continue
        try:
            code = check_dossier_code(row["dossier_code"])
        except MintError as exc:
            report.rejected.append((line, _("mã hồ sơ không hợp lệ: {why}", why=str(exc)),
                                    _("mã hồ sơ gồm 1–64 ký tự, không có ký tự điều khiển hay ký tự ẩn")))
            continue
        if code in first_line:
            report.rejected.append((line, _("hồ sơ {code} trùng với dòng {first}", code=code, first=first_line[code]),
                                    _("mỗi hồ sơ chỉ một dòng: xoá dòng trùng")))
            continue
        first_line[code] = line
        unit = lookup.unit(row["unit"])
        if unit is None:
            report.rejected.append((line, _("đơn vị “{unit}” không có trong danh mục của {root}", unit=row["unit"][:60],
                                            root=root.name),
                                    _("dùng mã đơn vị hành chính hoặc tên đúng như trong danh mục đơn vị")))
            continue
        fld = lookup.field(row["field"])
        if fld is None:
            report.rejected.append((line, _("lĩnh vực “{field}” không có trong danh mục", field=row["field"][:60]),
                                    _("dùng mã lĩnh vực (ví dụ dat-dai) hoặc tên tiếng Việt của lĩnh vực")))
            continue
        try:
            done = to_date(row["completed_on"])
        except ValueError:
            report.rejected.append((line, _("ngày hoàn thành “{value}” không đọc được", value=row["completed_on"][:20]),
                                    _("ghi ngày dạng 20/11/2026 hoặc 2026-11-20")))
            continue
        values = {"dossier_code": code, "unit_id": unit.id, "field_id": fld.id, "completed_on": done}
        for target in OPTIONAL:
            text = row.get(target, "").strip()
            if target == "phone" and text:
                phone, note = to_phone(text)
                if note:
                    report.notes.append((line, note))
                text = phone or ""
            limit = FrameDossier.__table__.c[target].type.length
            values[target] = text[:limit] or None
        parsed[code] = values | {"_line": line}
    _store(session, root, parsed, report, source=source, mapping=mapping, path=path,
           filename=filename or path.name, actor_login=actor_login)
    return report


def _comparable(values: dict) -> tuple:
    return tuple(values.get(k) for k in ("unit_id", "field_id", "completed_on", *OPTIONAL))


def _store(session: Session, root: Unit, parsed: dict[str, dict], report: ImportReport, *, source: str,
           mapping: dict[str, str], path: Path, filename: str, actor_login: str | None) -> None:
    existing: dict[str, FrameDossier] = {}
    codes = list(parsed)
    for start in range(0, len(codes), 500):
        for row in session.scalars(select(FrameDossier).where(FrameDossier.dossier_code.in_(codes[start:start + 500]))):
            existing[row.dossier_code] = row
    batch = FrameImport(unit_id=root.id, source=source[:80], filename=filename[:200], file_sha256=file_sha256(path),
                        actor_login=actor_login)
    session.add(batch)
    session.flush()
    new = []
    for code, values in parsed.items():
        line = values.pop("_line")
        old = existing.get(code)
        if old is None:
            new.append(values | {"import_id": batch.id})
        elif _comparable({k: getattr(old, k) for k in ("unit_id", "field_id", "completed_on", *OPTIONAL)}) == _comparable(values):
            report.unchanged += 1
        else:
            report.rejected.append((line, _("hồ sơ {code} đã có trong khung mẫu với thông tin khác", code=code),
                                    _("kiểm tra lại dòng này; hồ sơ đã nhập không bị ghi đè")))
    for start in range(0, len(new), 5000):
        session.execute(insert(FrameDossier), new[start:start + 5000])
    report.created = len(new)
    report.rejected.sort()
    batch.created, batch.unchanged, batch.rejected = report.created, report.unchanged, len(report.rejected)
    batch.rejections = json.dumps(report.rejected, ensure_ascii=False)
    batch.notes = json.dumps(report.notes, ensure_ascii=False)
    saved = session.scalar(select(FrameSource).filter_by(unit_id=root.id, name=source[:80]))
    if saved is None:
        session.add(FrameSource(unit_id=root.id, name=source[:80], mapping=json.dumps(mapping, ensure_ascii=False)))
    else:
        saved.mapping = json.dumps(mapping, ensure_ascii=False)
    session.flush()
    report.import_id = batch.id
