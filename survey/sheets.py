"""Spreadsheets administrators hand us (CSV from Excel, with or without BOM, or .xlsx), read as
(line number, cells) so every problem can be reported by the line the person sees in Excel; and
the ones we hand back, with every cell neutralised against formula injection.

A file comes from outside, so reading it is bounded before anything is parsed: its size, what an
.xlsx (a zip) unpacks to, the number of rows and columns and the length of a cell. Control
characters (NUL, Unicode line and paragraph separators, and for codes and names invisible format
characters) are refused with the line and column named, never stored or silently dropped.
Refusals are written in Vietnamese with `_()`, so an import page says them in the reader's language
and a CLI command in the shell's (see survey.commands.messages).
"""
from __future__ import annotations

import codecs
import csv
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .i18n import _, format_number

MAX_FILE_BYTES = 20 * 1024 * 1024  # a province's year of paper forms is a few MB
MAX_ROWS = 100_000  # data rows below the header
MAX_COLUMNS = 250  # the widest questionnaire has under 100 items, plus the tag columns
CELL_CHARS = 1_000  # codes and names (units, counters, dossiers); free-text answers pass their own
# An .xlsx is a zip whose parts openpyxl parses: bound what they unpack to before opening it. The
# worksheet is streamed; every other part (the shared strings above all) is read whole into memory.
MAX_XLSX_UNPACKED = 200 * 1024 * 1024
MAX_XLSX_PART = 16 * 1024 * 1024

# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): =, +, -, @, tab, CR first.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?(?:[eE][+-]?[0-9]+)?")


class SheetError(ValueError):
    """The file as a whole cannot be read (too big, missing columns, unsafe characters, not a
    CSV/XLSX); the message names the file and, where there is one, the line and column."""


class TooLarge(SheetError):
    """The file is over the caller's cap (`what` is "bytes" or "rows", `limit` the cap), so a
    caller may say it in its own words."""

    def __init__(self, message: str, what: str, limit: int) -> None:
        super().__init__(message)
        self.what, self.limit = what, limit


@dataclass
class Report:
    """Outcome of a row-by-row import: good rows are processed, every bad row is listed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged


# ---------------------------------------------------------------- reading


def read_rows(path: str | Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a .csv (UTF-8, BOM accepted; comma or semicolon) or .xlsx file with lower-cased,
    stripped header names. Blank rows are skipped; values are stripped strings ('' when empty)."""
    path = Path(path)
    header: list[str] | None = None
    for line, cells in read_cells(path):
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in required if c not in header]
            if missing:
                raise SheetError(_("{file}: thiếu cột {columns} (dòng {line} là dòng tiêu đề)", file=path.name,
                                   columns=", ".join(missing), line=line))
            continue
        if not any(cells):
            continue
        yield line, {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
    if header is None:
        raise SheetError(_("{file}: tệp trống", file=path.name))


def read_cells(path: str | Path, cell_chars: int = CELL_CHARS, multiline: bool = False, *, max_rows: int | None = None,
               max_bytes: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """(line, stripped cell texts) of every row of a CSV or XLSX file, numbered as Excel numbers
    rows (a quoted cell with a line break is one row). `multiline` lets a cell hold tabs and line
    breaks (free-text answers); codes and names are one line of visible characters. `max_rows` and
    `max_bytes` (default MAX_ROWS, MAX_FILE_BYTES) are per purpose (a sampling frame is a quarter's dossiers of a province: about a
    million rows); the .xlsx unpacking bounds hold for every caller."""
    path = Path(path)
    max_rows = MAX_ROWS if max_rows is None else max_rows
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise SheetError(_("{file}: không đọc được tệp ({reason})", file=path.name, reason=exc.strerror or exc)) from None
    if size > max_bytes:
        raise TooLarge(_("{file}: {size} MB; mỗi lần chỉ nhập được tối đa {limit} MB: hãy tách tệp", file=path.name,
                         size=format_number(size / 1024 / 1024), limit=max_bytes // 1024 // 1024), "bytes", max_bytes)
    if head.startswith(b"PK\x03\x04"):
        rows = _xlsx(path)
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetError(_("{file}: tệp Excel .xls kiểu cũ; trong Excel chọn “Lưu thành” (Save as) → .xlsx hoặc “CSV UTF-8”",
                           file=path.name))
    else:
        rows = _csv(path)
    names: list[str] = []
    shared: dict[str, str] = {}  # one object per repeated short value (answer codes): ~10× less memory per row
    for line, values in rows:
        cells = [v.strip() if type(v) is str else _text(v) for v in values]
        intern = shared.setdefault if len(shared) < 4096 else shared.get
        cells = [intern(c, c) if len(c) <= 8 else c for c in cells]
        if len(cells) > MAX_COLUMNS:
            beyond = next((i for i in range(MAX_COLUMNS, len(cells)) if cells[i]), None)
            if beyond is not None:
                raise SheetError(_("{file}: dòng {line}, cột {column}: hơn {limit} cột; hãy xoá các cột không thuộc bảng",
                                   file=path.name, line=line, column=column_letter(beyond + 1), limit=MAX_COLUMNS))
            del cells[MAX_COLUMNS:]  # empty cells Excel keeps for formatting
        if line > max_rows + 1 and any(cells):
            raise TooLarge(_("{file}: hơn {limit} dòng; hãy tách tệp rồi nhập lần lượt từng phần", file=path.name,
                             limit=format_number(max_rows, 0)), "rows", max_rows)
        # the common case in two C calls per row (a frame has a million rows); else find the cell
        if max(map(len, cells), default=0) > cell_chars or not "".join(cells).isprintable():
            _check_cells(path, line, cells, names, cell_chars, multiline)
        if not names and any(cells):
            names = [c.lower() for c in cells]
        yield line, cells


def _check_cells(path: Path, line: int, cells: list[str], names: list[str], cell_chars: int, multiline: bool) -> None:
    for i, cell in enumerate(cells):
        problem = cell_problem(cell, cell_chars, multiline)
        if problem:
            where = column_letter(i + 1) + (f" ({names[i]})" if i < len(names) and names[i] else "")
            raise SheetError(_("{file}: dòng {line}, cột {column}: {problem}", file=path.name, line=line, column=where,
                               problem=problem))


def cell_problem(text: str, cell_chars: int = CELL_CHARS, multiline: bool = False) -> str | None:
    """Why a cell cannot be accepted as it is, or None."""
    if len(text) > cell_chars:
        return _("{n} ký tự; mỗi ô tối đa {limit} ký tự", n=format_number(len(text), 0), limit=format_number(cell_chars, 0))
    if text.isprintable():
        return None  # the common case, in C
    for ch in text:
        if ch.isprintable() or (multiline and ch in "\t\n\r"):
            continue
        category = unicodedata.category(ch)
        name = unicodedata.name(ch, "")
        point = f"U+{ord(ch):04X}"
        if ch == "\x00":
            return _("có byte NUL (U+0000): tệp bị hỏng hoặc không phải văn bản")
        if category in ("Zl", "Zp"):
            return _("có ký tự {char} {name}: thay bằng một dấu xuống dòng thường hoặc một dấu cách", char=point, name=name)
        if category == "Cc" and multiline:
            return _("có ký tự điều khiển {char}; hãy xoá ký tự này", char=point)
        if category == "Cc":
            return _("có ký tự điều khiển {char}; hãy xoá ký tự này (mã hoặc tên chỉ là một dòng chữ)", char=point)
        if category == "Cs":
            return _("có ký tự thay thế (surrogate) lẻ {char}: văn bản bị hỏng", char=point)
        if category == "Cf" and not multiline:
            return _("có ký tự ẩn {char} {name}; hãy xoá ký tự này", char=point, name=name)
    return None


def column_letter(number: int) -> str:
    """Excel's name of a 1-based column: 1 → A, 27 → AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _csv(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """Streamed: the bytes are checked block by block (NUL, UTF-8), then parsed from the open file,
    so a 200 MB frame is never held whole; a bad file is read again whole to name its line."""
    if not _clean_utf8(path):
        _csv_problem(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = fh.read(64 * 1024).split("\n", 1)[0]
        fh.seek(0)
        delimiter = ";" if first.count(";") > first.count(",") else ","
        # newline="": only CR/LF end a row (str.splitlines would also split on U+2028, U+0085, ...);
        # Excel numbers rows by record, so a cell with a line break is one row.
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        number = 0
        try:
            for number, values in enumerate(reader, 1):
                yield number, values
        except csv.Error as exc:
            reason = (_("có ô dài hơn {limit} ký tự", limit=format_number(csv.field_size_limit(), 0))
                      if "field larger" in str(exc) else _("không đọc được dạng CSV ({reason})", reason=exc))
            raise SheetError(_("{file}: dòng {line}: {problem}", file=path.name, line=number + 1, problem=reason)) from None


def _clean_utf8(path: Path) -> bool:
    """No NUL byte anywhere (not only near the start) and valid UTF-8 throughout."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            if b"\x00" in block:
                return False
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _csv_problem(path: Path) -> None:
    """Raise the SheetError naming the line of the NUL byte or of the bytes that are not UTF-8."""
    raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise SheetError(_("{file}: dòng {line}: có byte NUL; đây không phải tệp văn bản (cần tệp CSV UTF-8 hoặc "
                           "bảng tính .xlsx)", file=path.name, line=_line_at(raw, nul)))
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(codecs.BOM_UTF8) else 0)
        raise SheetError(_("{file}: dòng {line}: không phải văn bản UTF-8; trong Excel hãy lưu thành “CSV UTF-8” "
                           "hoặc .xlsx", file=path.name, line=_line_at(raw, start))) from None


def _line_at(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _xlsx(path: Path) -> Iterator[tuple[int, list[Any]]]:
    _check_archive(path)
    from openpyxl import load_workbook  # only when an .xlsx arrives

    try:
        book = load_workbook(path, read_only=True, data_only=True)  # streamed, row by row
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise _unreadable(path, f"{type(exc).__name__}: {exc}") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the declared used range may be absurd (A1:XFD1048576): read what is there
        try:
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, list(values)
        except SheetError:
            raise
        except Exception as exc:  # a damaged worksheet part
            raise _unreadable(path, f"{type(exc).__name__}: {exc}") from None
    finally:
        book.close()


def _unreadable(path: Path, reason: object) -> SheetError:
    return SheetError(_("{file}: không đọc được dạng bảng tính .xlsx ({reason})", file=path.name, reason=reason))


def _check_archive(path: Path) -> None:
    """Refuse a workbook whose parts unpack to more than we are willing to parse (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _unreadable(path, exc) from None
    total = sum(p.file_size for p in parts)
    if total > MAX_XLSX_UNPACKED:
        raise SheetError(_("{file}: giải nén ra {size} MB; tối đa {limit} MB: hãy tách bảng tính hoặc lưu thành “CSV UTF-8”",
                           file=path.name, size=format_number(total / 1024 / 1024, 0), limit=MAX_XLSX_UNPACKED // 1024 // 1024))
    for part in parts:
        if part.file_size > MAX_XLSX_PART and not part.filename.startswith("xl/worksheets/"):
            raise SheetError(_("{file}: phần {part} giải nén ra {size} MB; tối đa {limit} MB: hãy lưu trang tính thành "
                               "“CSV UTF-8” rồi nhập tệp đó", file=path.name, part=part.filename,
                               size=format_number(part.file_size / 1024 / 1024, 0), limit=MAX_XLSX_PART // 1024 // 1024))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_date(text: str) -> date:
    """ISO (2026-11-20, a time after it is ignored) or Vietnamese day-first (20/11/2026) dates,
    in ASCII digits only."""
    text = text.strip()
    if text.isascii():
        for fmt, part in (("%Y-%m-%d", text[:10] if text[10:11] in ("", " ", "T") else text),
                          ("%d/%m/%Y", text), ("%d-%m-%Y", text)):
            try:
                return datetime.strptime(part, fmt).date()
            except ValueError:
                continue
    raise ValueError(_("'{value}' không phải ngày (ghi YYYY-MM-DD hoặc DD/MM/YYYY)", value=text[:20]))


# ---------------------------------------------------------------- writing


def safe_cell(value: Any) -> Any:
    """A value as it may go into a CSV or XLSX cell: text a spreadsheet would run as a formula
    (starting with = + - @, tab or CR) gets a leading apostrophe, the OWASP rule. Numbers, and
    text that is just a number (-12, +3,5), stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell (and column name) passed through safe_cell."""
    out = frame.copy()
    for column in out.columns:
        if not (out[column].dtype.kind in "biufcmM"):  # text or mixed: numbers pass safe_cell unchanged
            out[column] = out[column].map(safe_cell)
    return out.rename(columns=safe_cell)


def write_csv(path: Path, header: Iterable[Any], rows: Iterable[Iterable[Any]], private: bool = False) -> None:
    """A CSV in UTF-8 with BOM (so Excel reads it as UTF-8), every cell through safe_cell.

    `private` files (live citizen links) are created 0600 from the first byte: written to a new
    file made with that mode, then renamed over the target, so an older, wider file is replaced too."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with open(fd, "w", newline="", encoding="utf-8-sig") as fh:
            write_rows(fh, header, rows)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def write_rows(fh: Any, header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> None:
    """CSV rows into an open text file (opened with newline=""), every cell through safe_cell."""
    writer = csv.writer(fh)
    writer.writerow([safe_cell(v) for v in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
