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
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

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


def import_frame(session: Session, root: Unit, path: str | Path, *, source: str, mapping: dict[str, str] | None = None,
                 filename: str | None = None, actor_login: str | None = None,
                 progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import a frame file for the subtree of `root`; saves the mapping under `source`. Rows are
    checked as they are read and stored BATCH at a time; `progress(n)` hears of every n rows read.
    Never commits: the caller's one commit keeps the whole file or, on a FrameError or a crash,
    nothing (some batches may have been written inside the transaction the caller rolls back)."""
    path = Path(path)
    try:
        table = read_table(path)
    except SheetError as exc:
        raise FrameError(str(exc)) from None
    mapping = {t: h for t, h in (mapping or mapping_for(session, root, source, table.headers)).items() if h}
    problems = check_mapping(mapping, table.headers)
    if problems:
        raise FrameError(" ".join(problems))
    batch = FrameImport(unit_id=root.id, source=source[:80], filename=(filename or path.name)[:200],
                        file_sha256=file_sha256(path), actor_login=actor_login)
    store = _Store(session, batch)
    check = _Checker(session, root, mapping, table.headers, iso_dates=store.sqlite)
    try:
        with store.bulk():
            while True:
                parsed, read = check.take(table.rows, BATCH)
                if not read:
                    break
                store(parsed, check)
                if progress is not None:
                    progress(read)
            store.publish()
    except TooLarge as exc:
        raise FrameError(too_large(exc)) from None
    except SheetError as exc:
        raise FrameError(str(exc)) from None
    _finish(session, root, batch, check.report, source=source, mapping=mapping)
    return check.report


UNKNOWN = object()  # a text not looked up yet (None is "looked up: not in the registry")
NO_DATE = ""  # a completion date text that cannot be read (remembered like a good one)
SEP = "\x1f"  # joins a row's cells for one NFC check: read_cells refuses control characters in a cell


class _Checker:
    """Checks rows BATCH at a time in one tight loop (a million rows: every call and temporary per
    row costs seconds), remembering the line of each dossier code seen and the id or date each
    distinct unit, field and date text stands for. A good row becomes (code, unit id, field id,
    completed on, *OPTIONAL) in the driver's form (dates as ISO text on SQLite, as SQLite stores
    them), a bad one a rejection with its line."""

    def __init__(self, session: Session, root: Unit, mapping: dict[str, str], headers: list[str], *,
                 iso_dates: bool) -> None:
        self.root, self.mapping, self.iso_dates = root, mapping, iso_dates
        self.lookup = _Lookup(session, root)
        self.limits = [FrameDossier.__table__.c[t].type.length for t in OPTIONAL]
        where = [headers.index(mapping[t]) if mapping.get(t) else -1 for t in TARGETS]
        self.pick = itemgetter(*where)
        self.pad = [""] * (max(where) + 1)  # a short row reads '' beyond its end; -1 (unmapped) is ''
        self.units: dict[str, int | None] = {}
        self.fields: dict[str, int | None] = {}
        self.dates: dict[str, object] = {}
        self.first_line: dict[str, int] = {}
        self.report = ImportReport()

    def reject(self, line: int, reason: str, fix: str) -> None:
        self.report.rejected.append((line, reason, fix))

    def take(self, rows: Iterator[tuple[int, list[str]]], limit: int) -> tuple[list[tuple], int]:
        """(good rows, non-blank rows read) of the next `limit` non-blank rows."""
        good: list[tuple] = []
        read = 0
        pick, pad, normalize = self.pick, self.pad, unicodedata.normalize
        units, fields, dates, first_line = self.units, self.fields, self.dates, self.first_line
        l_procedure, l_name, l_address, l_phone, l_channel = self.limits
        for line, cells in rows:
            if not any(cells):
                continue
            read += 1
            row = pick(cells + pad)
            joined = SEP.join(row)
            normal = normalize("NFC", joined)  # the same object when already NFC (nearly always)
            if normal is not joined:
                row = normal.split(SEP)
            code, unit_text, field_text, done_text, procedure, name, address, phone, channel = row
            if not (code and unit_text and field_text and done_text):
                self.missing(line, row)
            elif not (code.isascii() and code.isprintable() and len(code) <= MAX_DOSSIER_CODE and "|" not in code) \
                    and (code := self.odd_code(line, code)) is None:
                pass
            elif (first := first_line.setdefault(code, line)) != line:
                self.reject(line, _("hồ sơ {code} trùng với dòng {first}", code=code, first=first),
                            _("mỗi hồ sơ chỉ một dòng: xoá dòng trùng"))
            elif (unit_id := units.get(unit_text, UNKNOWN)) is None or unit_id is UNKNOWN and (
                    unit_id := self.unit_id(unit_text)) is None:
                self.reject(line, _("đơn vị “{unit}” không có trong danh mục của {root}", unit=unit_text[:60],
                                    root=self.root.name),
                            _("dùng mã đơn vị hành chính hoặc tên đúng như trong danh mục đơn vị"))
            elif (field_id := fields.get(field_text, UNKNOWN)) is None or field_id is UNKNOWN and (
                    field_id := self.field_id(field_text)) is None:
                self.reject(line, _("lĩnh vực “{field}” không có trong danh mục", field=field_text[:60]),
                            _("dùng mã lĩnh vực (ví dụ dat-dai) hoặc tên tiếng Việt của lĩnh vực"))
            elif (done := dates.get(done_text) or self.date(done_text)) is NO_DATE:
                self.reject(line, _("ngày hoàn thành “{value}” không đọc được", value=done_text[:20]),
                            _("ghi ngày dạng 20/11/2026 hoặc 2026-11-20"))
            else:
                if phone and not (len(phone) in (10, 11) and phone[0] == "0" and phone.isascii() and phone.isdigit()):
                    phone = self.repaired_phone(line, phone)
                good.append((code, unit_id, field_id, done, procedure[:l_procedure] or None, name[:l_name] or None,
                             address[:l_address] or None, phone[:l_phone] or None, channel[:l_channel] or None))
            if read == limit:
                break
        return good, read

    def missing(self, line: int, row: tuple[str, ...]) -> None:
        names = ", ".join(f"{_(TARGET_LABELS[t])} ({self.mapping[t]})" for t, v in zip(REQUIRED, row) if not v)
        self.reject(line, _("thiếu {names}", names=names), _("điền giá trị vào tệp nguồn rồi nhập lại"))

    def odd_code(self, line: int, code: str) -> str | None:
        """The full check of a code that is not short printable ASCII; None when rejected."""
        try:
            return check_dossier_code(code)
        except MintError as exc:
            self.reject(line, _("mã hồ sơ không hợp lệ: {why}", why=str(exc)),
                        _("mã hồ sơ gồm 1–64 ký tự, không có ký tự điều khiển hay ký tự ẩn"))
            return None

    def unit_id(self, text: str) -> int | None:
        found = self.lookup.unit(text)
        self.units[text] = None if found is None else found.id
        return self.units[text]

    def field_id(self, text: str) -> int | None:
        found = self.lookup.field(text)
        self.fields[text] = None if found is None else found.id
        return self.fields[text]

    def date(self, text: str) -> object:
        """The stored form of a completion date text, or NO_DATE; remembered (a quarter has about 92
        distinct dates) unless a file full of odd texts would make the memory grow without use."""
        try:
            day = to_date(text)
            value: object = day.isoformat() if self.iso_dates else day
        except ValueError:
            value = NO_DATE
        if len(self.dates) < 100_000:
            self.dates[text] = value
        return value

    def repaired_phone(self, line: int, text: str) -> str:
        phone, note = to_phone(text)
        if note:
            self.report.notes.append((line, note))
        return phone or ""


COLUMNS = ("dossier_code", "unit_id", "field_id", "completed_on", *OPTIONAL)
LOOKUP_CHUNK = 500  # codes per lookup query on SQLite (one prepared statement, the last chunk padded)
# SQLite's page cache for the import's connection: the unique index on dossier codes of a million-row
# frame is about 50 MB and each batch touches pages all over it; with the default 2 MB cache nearly
# every insert re-read a page. Memory, not durability: the commit is still synchronous=FULL.
IMPORT_CACHE_KIB = 128 * 1024
STAGING = "frame_staging"  # SQLite's temp table of an import's checked rows (_Store)


class _Store:
    """Stores checked batches: dossiers already in the frame (looked up by code) are unchanged or
    rejected as different, the others inserted in code order (the unique index takes them about
    twice as fast) through the driver: executemany of one prepared INSERT on SQLite, COPY on
    PostgreSQL (SQLAlchemy's per-row parameter handling cost seconds over a million rows).

    SQLite has one writer: an import that wrote the main file batch by batch held it for minutes,
    and citizens' submissions waiting behind it failed after their 30 s busy timeout. So when the
    connection holds no transaction yet, the batches are staged in a TEMP table (the connection's
    private temp database) with the connection in autocommit mode, each look-up reading the main
    file in its own snapshot; the one write to the main file is `publish`'s INSERT … SELECT (seconds
    for a million rows), in the caller's transaction, so the caller's commit still keeps the whole
    file or nothing."""

    def __init__(self, session: Session, batch: FrameImport) -> None:
        self.session, self.batch = session, batch
        self.connection = session.connection()
        self.sqlite = self.connection.dialect.name == "sqlite"
        self.raw = self.connection.connection.driver_connection
        self.staged = self.sqlite and not self.raw.in_transaction
        self.staging = False  # the temp table is there and the connection in autocommit
        if not self.staged:
            session.add(batch)
            session.flush()
        columns = ", ".join(COLUMNS)
        table = FrameDossier.__tablename__
        if self.sqlite:
            self.lookup_sql = (f"SELECT {columns} FROM main.{table} WHERE dossier_code IN "
                               f"({', '.join(['?'] * LOOKUP_CHUNK)})")
            values = ", ".join(["?"] * len(COLUMNS))
            if self.staged:
                self.insert_sql = f"INSERT INTO temp.{STAGING} VALUES ({values})"
                self.publish_sql = (f"INSERT INTO main.{table} ({columns}, import_id) SELECT {columns}, ? "
                                    f"FROM temp.{STAGING} ORDER BY dossier_code")
            else:
                self.insert_sql = f"INSERT INTO {table} ({columns}, import_id) VALUES ({values}, {int(batch.id)})"
        else:
            self.lookup_sql = f"SELECT {columns} FROM {table} WHERE dossier_code = ANY(%s)"
            self.insert_sql = f"COPY {table} ({columns}, import_id) FROM STDIN"

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """SQLite's page cache raised for the import, then set back (the connection goes back to the
        pool); when staged, the temp table made and the connection in autocommit until `publish`."""
        if not self.sqlite:
            yield
            return
        cursor = self.raw.cursor()
        before = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
        if self.staged:
            self.isolation, self.raw.isolation_level, self.staging = self.raw.isolation_level, None, True
            cursor.execute(f"DROP TABLE IF EXISTS temp.{STAGING}")
            cursor.execute(f"CREATE TEMP TABLE {STAGING} AS SELECT {', '.join(COLUMNS)} "
                           f"FROM main.{FrameDossier.__tablename__} WHERE 0")
        try:
            yield
        finally:
            if self.staged:
                self._end_staging(cursor)
            cursor.execute(f"PRAGMA cache_size = {int(before)}")
            cursor.close()

    def publish(self) -> None:
        """Move the staged rows into the frame: the import's one write to the main file."""
        if not self.staged:
            return
        cursor = self.raw.cursor()
        try:
            self._end_staging(cursor, drop=False)
            self.session.add(self.batch)
            self.session.flush()  # the first write: SQLite's writer slot from here to the caller's commit
            cursor.execute(self.publish_sql, (self.batch.id,))
            cursor.execute(f"DROP TABLE temp.{STAGING}")
        except sqlite3.IntegrityError:  # the temp table stays until the next import or the connection closes
            raise FrameError(_("Trong lúc tệp này được nhập, một lần nhập khác đã thêm cùng mã hồ sơ; "
                               "chưa hồ sơ nào của tệp được lưu. Hãy nhập lại tệp: các hồ sơ đã có sẽ "
                               "được báo là không đổi.")) from None
        finally:
            cursor.close()

    def _end_staging(self, cursor: Any, *, drop: bool = True) -> None:
        """Back to the connection's own transaction mode (once); the temp table dropped unless published."""
        if self.staging:
            if drop:
                cursor.execute(f"DROP TABLE IF EXISTS temp.{STAGING}")
            self.raw.isolation_level, self.staging = self.isolation, False

    def __call__(self, good: list[tuple], check: _Checker) -> None:
        good.sort()
        cursor = self.raw.cursor()
        try:
            existing = dict(self.existing(cursor, [values[0] for values in good]))
            if existing:
                new = []
                for values in good:
                    old = existing.get(values[0])
                    if old is None:
                        new.append(values)
                    elif old == values:
                        check.report.unchanged += 1
                    else:
                        check.reject(check.first_line[values[0]],
                                     _("hồ sơ {code} đã có trong khung mẫu với thông tin khác", code=values[0]),
                                     _("kiểm tra lại dòng này; hồ sơ đã nhập không bị ghi đè"))
            else:
                new = good
            if new and self.sqlite:
                cursor.executemany(self.insert_sql, new)
            elif new:
                with cursor.copy(self.insert_sql) as copy:
                    for values in new:
                        copy.write_row((*values, self.batch.id))
        finally:
            cursor.close()
        check.report.created += len(new)

    def existing(self, cursor: Any, codes: list[str]) -> Iterator[tuple[str, tuple]]:
        """(code, stored row) of the codes already in the frame."""
        if not self.sqlite:
            for old in cursor.execute(self.lookup_sql, (codes,)):
                yield old[0], tuple(old)
            return
        for start in range(0, len(codes), LOOKUP_CHUNK):
            chunk = codes[start:start + LOOKUP_CHUNK]
            chunk += [chunk[-1]] * (LOOKUP_CHUNK - len(chunk))
            for old in cursor.execute(self.lookup_sql, chunk):
                yield old[0], old


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
