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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..i18n import N_, _
from ..models import Field, FrameDossier, FrameImport, FrameSource, Unit
from ..qr.dossiers import MAX_DOSSIER_CODE, MintError, check_dossier_code
from ..sheets import SheetError, TooLarge, parse_date, read_cells

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
# A frame is a quarter's completed dossiers of a whole province: up to about a million rows, so its
# file may be far bigger than other imports (sheets.MAX_ROWS); it is streamed and stored in batches.
MAX_ROWS = 1_200_000
MAX_BYTES = 200 * 1024 * 1024
BATCH = 5000
DAY_FIRST = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
EXCEL_EPOCH = date(1899, 12, 30)
PHONE = re.compile(r"0[0-9]{9,10}")


class FrameError(ValueError):
    """The file or the mapping cannot be used at all; the message says why and what to do."""


@dataclass
class Table:
    """The file's header row (its line and names) and the data rows below it: `rows` is read
    as it is consumed (once), `sample` holds the first three for the mapping page."""

    header_line: int
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    sample: list[tuple[int, list[str]]] = field(default_factory=list)


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
    fullest of them: title rows and merged header cells above the table fill one or two. Only the
    top lines are read here; the rest streams through `Table.rows`."""
    cells_of = read_cells(path, max_rows=MAX_ROWS, max_bytes=MAX_BYTES)
    try:
        lines = [item for _i, item in zip(range(HEADER_SEARCH_LINES), cells_of)]
    except TooLarge as exc:
        raise FrameError(too_large(exc)) from None
    top = [(line, cells) for line, cells in lines if any(cells)]
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
    after = lines[index + 1:]
    after.extend(item for _i, item in zip(range(max(0, 3 - len(after))), cells_of))
    return Table(line, headers, chain(after, cells_of), after[:3])


def too_large(exc: TooLarge) -> str:
    """The reader's refusal of a file over the frame caps, said with the cap and the fix."""
    if exc.what == "rows":
        return _("Tệp có hơn {limit} dòng, quá giới hạn một lần nhập khung mẫu: tách tệp (ví dụ theo quý hoặc theo "
                 "đơn vị) rồi nhập lần lượt từng phần.", limit=f"{exc.limit:,}".replace(",", "."))
    return _("Tệp lớn hơn {mb} MB, quá giới hạn một lần nhập khung mẫu: lưu thành “CSV UTF-8” (nhỏ hơn .xlsx) "
             "hoặc tách tệp rồi nhập lần lượt từng phần.", mb=exc.limit // 1024 // 1024)


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


def line_count(path: str | Path) -> int | None:
    """Lines of a CSV file (a progress bar's length; a cell with a line break makes it an
    overestimate), None for a workbook."""
    with open(path, "rb") as fh:
        if fh.read(4) == b"PK\x03\x04":
            return None
        fh.seek(0)
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- values


def to_date(text: str) -> date:
    """dd/mm/yyyy, yyyy-mm-dd (as survey.sheets reads them) or an Excel serial day number; the
    two common forms without strptime, which costs seconds over a million rows."""
    if text.isascii() and text.isdigit() and 20000 <= int(text) <= 80000:
        return EXCEL_EPOCH + timedelta(days=int(text))
    if day := DAY_FIRST.fullmatch(text):
        return date(int(day[3]), int(day[2]), int(day[1]))
    if day := ISO_DAY.fullmatch(text):
        return date(int(day[1]), int(day[2]), int(day[3]))
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

    def ids(self) -> tuple[Callable[[str], int | None], Callable[[str], int | None]]:
        """(unit id, field id) of a cell's text, remembered per text: a million rows name a few
        hundred units and fields, and plain() or an ORM attribute per row costs seconds."""
        units: dict[str, int | None] = {}
        fields: dict[str, int | None] = {}

        def unit_id(text: str) -> int | None:
            if text not in units:
                found = self.unit(text)
                units[text] = None if found is None else found.id
            return units[text]

        def field_id(text: str) -> int | None:
            if text not in fields:
                found = self.field(text)
                fields[text] = None if found is None else found.id
            return fields[text]

        return unit_id, field_id


def _rows(table: Table, mapping: dict[str, str]) -> Iterator[tuple[int, list[str]]]:
    """(line, cells in TARGETS order, '' where unmapped) of each non-blank row, in NFC."""
    where = [table.headers.index(mapping[t]) if mapping.get(t) else -1 for t in TARGETS]
    width = max(where) + 2  # the last cell stays '' for unmapped targets (index -1)
    for line, cells in table.rows:
        if not any(cells):
            continue
        cells = cells[:width - 1] + [""] * (width - min(len(cells), width - 1))
        yield line, [cells[i] if cells[i].isascii() else unicodedata.normalize("NFC", cells[i]) for i in where]


def import_frame(session: Session, root: Unit, path: str | Path, *, source: str, mapping: dict[str, str] | None = None,
                 filename: str | None = None, actor_login: str | None = None,
                 progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import a frame file for the subtree of `root`; saves the mapping under `source`. Rows are
    checked as they are read and stored BATCH at a time; `progress(n)` hears of every n rows read.
    Never commits; on a FrameError the caller rolls back (some batches may have been written)."""
    path = Path(path)
    try:
        table = read_table(path)
    except SheetError as exc:
        raise FrameError(str(exc)) from None
    mapping = {t: h for t, h in (mapping or mapping_for(session, root, source, table.headers)).items() if h}
    problems = check_mapping(mapping, table.headers)
    if problems:
        raise FrameError(" ".join(problems))
    check = _Checker(session, root, mapping)
    batch = FrameImport(unit_id=root.id, source=source[:80], filename=(filename or path.name)[:200],
                        file_sha256=file_sha256(path), actor_login=actor_login)
    session.add(batch)
    session.flush()
    parsed: dict[str, tuple] = {}
    read = 0
    try:
        for line, row in _rows(table, mapping):
            read += 1
            if progress is not None and read % BATCH == 0:
                progress(BATCH)
            values = check(line, row)
            if values is not None:
                parsed[values[0]] = values
                if len(parsed) >= BATCH:
                    _store(session, parsed, check.report, batch.id)
                    parsed = {}
    except TooLarge as exc:
        raise FrameError(too_large(exc)) from None
    except SheetError as exc:
        raise FrameError(str(exc)) from None
    if progress is not None and read % BATCH:
        progress(read % BATCH)
    _store(session, parsed, check.report, batch.id)
    _finish(session, root, batch, check.report, source=source, mapping=mapping)
    return check.report


class _Checker:
    """Checks one row at a time, remembering the line of each dossier code seen; a good row
    becomes (code, unit id, field id, completed on, *OPTIONAL, line), a bad one a rejection."""

    def __init__(self, session: Session, root: Unit, mapping: dict[str, str]) -> None:
        self.root, self.mapping = root, mapping
        self.unit_id, self.field_id = _Lookup(session, root).ids()
        self.limits = [FrameDossier.__table__.c[t].type.length for t in OPTIONAL]
        self.first_line: dict[str, int] = {}
        self.report = ImportReport()

    def reject(self, line: int, reason: str, fix: str) -> None:
        self.report.rejected.append((line, reason, fix))

    def __call__(self, line: int, row: list[str]) -> tuple | None:
        code, unit_text, field_text, done_text, *optional = row
        if not (code and unit_text and field_text and done_text):
            names = ", ".join(f"{_(TARGET_LABELS[t])} ({self.mapping[t]})" for t, v in zip(REQUIRED, row) if not v)
            return self.reject(line, _("thiếu {names}", names=names), _("điền giá trị vào tệp nguồn rồi nhập lại"))
        try:  # printable ASCII has no control or invisible characters: the full check only for the rest
            if not (code.isascii() and code.isprintable() and len(code) <= MAX_DOSSIER_CODE and "|" not in code):
                code = check_dossier_code(code)
        except MintError as exc:
            return self.reject(line, _("mã hồ sơ không hợp lệ: {why}", why=str(exc)),
                               _("mã hồ sơ gồm 1–64 ký tự, không có ký tự điều khiển hay ký tự ẩn"))
        first = self.first_line.setdefault(code, line)
        if first != line:
            return self.reject(line, _("hồ sơ {code} trùng với dòng {first}", code=code, first=first),
                               _("mỗi hồ sơ chỉ một dòng: xoá dòng trùng"))
        unit_id = self.unit_id(unit_text)
        if unit_id is None:
            return self.reject(line, _("đơn vị “{unit}” không có trong danh mục của {root}", unit=unit_text[:60],
                                       root=self.root.name),
                               _("dùng mã đơn vị hành chính hoặc tên đúng như trong danh mục đơn vị"))
        field_id = self.field_id(field_text)
        if field_id is None:
            return self.reject(line, _("lĩnh vực “{field}” không có trong danh mục", field=field_text[:60]),
                               _("dùng mã lĩnh vực (ví dụ dat-dai) hoặc tên tiếng Việt của lĩnh vực"))
        try:
            done = to_date(done_text)
        except ValueError:
            return self.reject(line, _("ngày hoàn thành “{value}” không đọc được", value=done_text[:20]),
                               _("ghi ngày dạng 20/11/2026 hoặc 2026-11-20"))
        phone = optional[PHONE_AT]
        if phone and not (len(phone) in (10, 11) and phone[0] == "0" and phone.isascii() and phone.isdigit()):
            phone, note = to_phone(phone)
            if note:
                self.report.notes.append((line, note))
            optional[PHONE_AT] = phone or ""
        return (code, unit_id, field_id, done, *[v[:n] or None for v, n in zip(optional, self.limits)], line)


PHONE_AT = OPTIONAL.index("phone")
COLUMNS = ("dossier_code", "unit_id", "field_id", "completed_on", *OPTIONAL)


def _store(session: Session, parsed: dict[str, tuple], report: ImportReport, import_id: int) -> None:
    """One batch: dossiers already in the frame (looked up by code, 500 to a query) are unchanged
    or rejected as different; the others are inserted with one executemany of the driver (through
    SQLAlchemy's per-row parameter handling a million rows took 8 s more)."""
    table = FrameDossier.__table__
    existing: dict[str, tuple] = {}
    codes = list(parsed)
    for start in range(0, len(codes), 500):
        query = select(*[table.c[k] for k in COLUMNS]).where(table.c.dossier_code.in_(codes[start:start + 500]))
        for old in session.execute(query):
            existing[old[0]] = tuple(old)
    new = []
    for code, values in parsed.items():
        old = existing.get(code)
        if old is None:
            new.append(values[:-1])
        elif old == values[:-1]:
            report.unchanged += 1
        else:
            report.rejected.append((values[-1], _("hồ sơ {code} đã có trong khung mẫu với thông tin khác", code=code),
                                    _("kiểm tra lại dòng này; hồ sơ đã nhập không bị ghi đè")))
    if new:
        connection = session.connection()
        sqlite = connection.dialect.name == "sqlite"
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        sql = (f"INSERT INTO {table.name} ({', '.join(COLUMNS)}, import_id) "
               f"VALUES ({', '.join([mark] * (len(COLUMNS) + 1))})")
        new.sort()  # in code order the unique index takes them about twice as fast
        connection.exec_driver_sql(sql, [(*v[:3], v[3].isoformat() if sqlite else v[3], *v[4:], import_id) for v in new])
    report.created += len(new)


def _finish(session: Session, root: Unit, batch: FrameImport, report: ImportReport, *, source: str,
            mapping: dict[str, str]) -> None:
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
