"""The keying template for `responses import`: an XLSX a clerk types paper forms into.

The first sheet has the import's columns; every coded column carries a drop-down list of its
valid codes (an Excel data validation that refuses anything else), number columns a whole-
number range, multiple-choice columns a prompt (several codes such as 1;3 cannot be a list).
The second sheet, the codebook, says what every code means, in Vietnamese, so the clerk keys
codes from the paper form without guessing. The import still checks every cell: validations
help at the keyboard, they are not the safeguard (a pasted value skips them).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from questionnaires.loader import Item, Questionnaire

from ..sheets import safe_cell
from .response_imports import CHANNELS, SOURCES, template_header

DATA_SHEET = "Phieu"
CODEBOOK_SHEET = "Bang ma"
ROWS = 5000  # rows the validations cover: a day's keying many times over
TYPE_VI = {"satisfaction": "thang hài lòng", "single": "chọn một", "multiple": "chọn nhiều (mã cách nhau bởi ;)",
           "number": "số nguyên", "text": "chữ"}


def _codes_validation(codes: Sequence[int | str], title: str) -> DataValidation:
    listed = ",".join(map(str, codes))
    return DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True, showErrorMessage=True,
                          errorTitle="Mã không hợp lệ", error=f"Chỉ nhập một trong các mã: {listed}",
                          promptTitle=title[:32], prompt=f"Mã: {listed}"[:255], showInputMessage=True)


def _validation(item: Item) -> DataValidation | None:
    if item.type in ("satisfaction", "single"):
        return _codes_validation([c for c, _ in item.choices("vi")], item.key)
    if item.type == "number" and item.min is not None and item.max is not None:
        return DataValidation(type="whole", operator="between", formula1=str(item.min), formula2=str(item.max),
                              allow_blank=True, showErrorMessage=True, errorTitle="Số không hợp lệ",
                              error=f"Nhập số nguyên từ {item.min} đến {item.max}")
    if item.type == "multiple":
        codes = ";".join(str(c) for c, _ in item.choices("vi"))
        return DataValidation(type=None, showInputMessage=True, promptTitle=item.key[:32],
                              prompt=f"Một hoặc nhiều mã cách nhau bởi dấu ; (trong {codes})"[:255])
    return None


def write_template(questionnaire: Questionnaire, path: str | Path, fields: Sequence[tuple[str, str]] = ()) -> Path:
    """Write the XLSX template (data sheet with validations, codebook sheet) and return its path.

    `fields`: (code, Vietnamese name) of the national fields, for the field column's list.
    """
    header = template_header(questionnaire)
    items = {i.key: i for i in questionnaire.items}
    book = Workbook()
    data = book.active
    data.title = DATA_SHEET
    data.append(header)
    for cell in data[1]:
        cell.font = Font(bold=True)
    data.freeze_panes = "A2"
    codebook = book.create_sheet(CODEBOOK_SHEET)
    codebook.append(["cột / column", "số câu", "câu hỏi", "kiểu", "mã", "ý nghĩa"])
    for cell in codebook[1]:
        cell.font = Font(bold=True)
    tag_meaning = {
        "form_id": "số phiếu in trên phiếu giấy (không bắt buộc; chống nhập trùng)",
        "submitted_at": "ngày điền phiếu, dd/mm/yyyy (bắt buộc, hoặc dùng --date khi nhập)",
        "unit": "mã đơn vị", "counter": "mã quầy của đơn vị", "procedure": "mã thủ tục",
    }
    field_rows = None
    for column in header[:8]:
        if column == "field":
            for code, name in fields:
                codebook.append(["field", None, "lĩnh vực", "mã hoặc tên", code, safe_cell(name)])
            field_rows = (codebook.max_row - len(fields) + 1, codebook.max_row) if fields else None
        elif column in ("channel", "source"):
            for value in CHANNELS if column == "channel" else SOURCES:
                codebook.append([column, None, "kênh" if column == "channel" else "nguồn", "mã", value, None])
        else:
            codebook.append([column, None, tag_meaning.get(column), None, None, None])
    for item in questionnaire.items:
        kind = TYPE_VI.get(item.type, item.type)
        if item.type in ("satisfaction", "single", "multiple"):
            for code, label in item.choices("vi"):
                codebook.append([item.key, item.ref, safe_cell(item.label.vi), kind, code, safe_cell(label)])
        elif item.type == "number":
            codebook.append([item.key, item.ref, safe_cell(item.label.vi), kind, None, f"{item.min}–{item.max}"])
        else:
            codebook.append([item.key, item.ref, safe_cell(item.label.vi), kind, None, None])
    for width, letter in zip((16, 8, 60, 18, 8, 40), "ABCDEF"):
        codebook.column_dimensions[letter].width = width
    for index, column in enumerate(header, start=1):
        rule = None
        if column in items:
            rule = _validation(items[column])
        elif column == "channel":
            rule = _codes_validation(CHANNELS, "channel")
        elif column == "source":
            rule = _codes_validation(SOURCES, "source")
        elif column == "field" and field_rows:
            rule = DataValidation(type="list", formula1=f"'{CODEBOOK_SHEET}'!$E${field_rows[0]}:$E${field_rows[1]}",
                                  allow_blank=True, showErrorMessage=False)  # a Vietnamese name is accepted too
        if rule is not None:
            letter = get_column_letter(index)
            rule.add(f"{letter}2:{letter}{ROWS + 1}")
            data.add_data_validation(rule)
        data.column_dimensions[get_column_letter(index)].width = max(10, len(column) + 2)
    path = Path(path)
    book.save(path)
    return path
