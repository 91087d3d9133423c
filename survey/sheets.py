"""Spreadsheets administrators hand us (CSV from Excel, with or without BOM, or .xlsx), read as
(line number, row dict) so every problem can be reported by the line the person sees."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator


class SheetError(ValueError):
    """The file as a whole cannot be read (missing columns, not a CSV/XLSX)."""


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

    def summary(self, noun: str = "rows") -> str:
        return (f"{self.processed} {noun} processed ({self.created} new, {self.updated} updated, "
                f"{self.unchanged} unchanged); {len(self.errors)} rows failed")


def read_rows(path: str | Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a .csv (UTF-8, BOM accepted; comma or semicolon) or .xlsx file with lower-cased,
    stripped header names. Blank rows are skipped; values are stripped strings ('' when empty)."""
    path = Path(path)
    rows = _xlsx(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _csv(path)
    header: list[str] | None = None
    for line, values in rows:
        if header is None:
            header = [str(v or "").strip().lower() for v in values]
            missing = [c for c in required if c not in header]
            if missing:
                raise SheetError(f"{path.name}: missing column(s) {', '.join(missing)} (line {line} is the header)")
            continue
        cells = [_text(v) for v in values]
        if not any(cells):
            continue
        yield line, {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
    if header is None:
        raise SheetError(f"{path.name}: the file is empty")


def _csv(path: Path) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SheetError(f"{path.name}: not UTF-8 text; in Excel save as 'CSV UTF-8' or as .xlsx") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    line = 1
    for values in reader:
        yield line, values
        line = reader.line_num + 1  # a quoted cell may span lines: report where the row starts


def _xlsx(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # only when an .xlsx arrives

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise SheetError(f"{path.name}: cannot read as .xlsx ({exc})") from None
    try:
        for line, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            yield line, list(values)
    finally:
        book.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_date(text: str) -> date:
    """ISO (2026-11-20) or Vietnamese day-first (20/11/2026) dates."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{text[:20]}' is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
