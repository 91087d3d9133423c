"""Frame import: every kind of bad row is reported with its line, reason and fix; good rows
are kept; the same file again changes nothing; the mapping is saved per source."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from survey.models import FrameDossier, FrameImport, FrameSource
from survey.sampling import frames
from tests.sampling.conftest import HEADER, frame_rows, unit, write_frame


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(FrameDossier))


def test_every_bad_row_is_reported_with_line_reason_and_fix(ctx, tmp_path):
    good = frame_rows(3)
    bad = [
        "HS-X1,11953,dat-dai,31/02/2026,,,,",              # line 6: impossible date
        "HS-X2,99999,dat-dai,15/10/2026,,,,",              # line 7: unknown unit
        "HS-X3,11953,thu-cong,15/10/2026,,,,",             # line 8: unknown field
        good[0],                                            # line 9: duplicate of line 3
        ",11953,dat-dai,15/10/2026,,,,",                   # line 10: missing dossier code
        "HS-X4,Xã Tân Hưng,Tư pháp – Hộ tịch,46310,,,,",   # line 11: good: unit and field by name, Excel serial date
        "HS-X5,12001,tu-phap-ho-tich,2026-10-20,,Lê Thị B,,912345678",  # line 12: good, phone lost its 0
    ]
    path = write_frame(tmp_path, good + bad)
    report = frames.import_frame(ctx, unit("33"), path, source="iGate", actor_login="t")
    ctx.commit()
    by_line = {line: (reason, fix) for line, reason, fix in report.rejected}
    assert sorted(by_line) == [6, 7, 8, 9, 10]
    assert "31/02/2026" in by_line[6][0] and "20/11/2026" in by_line[6][1]
    assert "99999" in by_line[7][0] and "mã đơn vị" in by_line[7][1]
    assert "thu-cong" in by_line[8][0]
    assert "dòng 3" in by_line[9][0]
    assert "Mã hồ sơ" in by_line[10][0]
    assert all(fix for _r, fix in by_line.values())
    assert report.created == 5 and count(ctx) == 5
    x4 = ctx.scalar(select(FrameDossier).filter_by(dossier_code="HS-X4"))
    assert x4.unit.code == "12001" and x4.field.code == "tu-phap-ho-tich" and x4.completed_on.isoformat() == "2026-10-15"  # Excel: 45658 is 01/01/2025; +652 days
    x5 = ctx.scalar(select(FrameDossier).filter_by(dossier_code="HS-X5"))
    assert x5.phone == "0912345678" and any(line == 12 and "0912345678" in note for line, note in report.notes)
    stored = ctx.scalar(select(FrameImport))
    assert stored.rejected == 5 and [r[0] for r in json.loads(stored.rejections)] == [6, 7, 8, 9, 10]


def test_the_same_file_again_changes_nothing(ctx, tmp_path):
    path = write_frame(tmp_path, frame_rows(20))
    first = frames.import_frame(ctx, unit("11953"), path, source="iGate")
    again = frames.import_frame(ctx, unit("11953"), path, source="iGate")
    assert (first.created, again.created, again.unchanged, again.rejected) == (20, 0, 20, [])
    assert count(ctx) == 20


def test_a_changed_dossier_is_rejected_not_overwritten(ctx, tmp_path):
    frames.import_frame(ctx, unit("11953"), write_frame(tmp_path, frame_rows(2)), source="s")
    changed = [frame_rows(1)[0].replace("15/10/2026", "16/10/2026")]
    report = frames.import_frame(ctx, unit("11953"), write_frame(tmp_path, changed, "b.csv"), source="s")
    assert report.created == 0 and len(report.rejected) == 1 and report.rejected[0][0] == 3
    assert ctx.scalar(select(FrameDossier.completed_on).where(FrameDossier.dossier_code.like("%00001"))).day == 15


def test_a_unit_outside_the_coordinators_subtree_is_unknown(ctx, tmp_path):
    report = frames.import_frame(ctx, unit("11953"), write_frame(tmp_path, frame_rows(1, unit="12001")), source="s")
    assert report.created == 0 and "12001" in report.rejected[0][1]


def test_mapping_is_saved_per_source_and_reused(ctx, tmp_path):
    lines = ["Số HS;Xã;LV;Ngày trả KQ;Người nộp", "A-1;11953;dat-dai;01/10/2026;Trần C"]
    path = tmp_path / "other.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    mapping = {"dossier_code": "Số HS", "unit": "Xã", "field": "LV", "completed_on": "Ngày trả KQ", "name": "Người nộp"}
    report = frames.import_frame(ctx, unit("11953"), path, source="Phần mềm X", mapping=mapping)
    assert report.created == 1
    table = frames.read_table(path)
    assert frames.mapping_for(ctx, unit("11953"), "Phần mềm X", table.headers) == mapping
    assert json.loads(ctx.scalar(select(FrameSource.mapping))) == mapping


def test_headers_are_guessed_below_a_title_row(tmp_path):
    table = frames.read_table(write_frame(tmp_path, frame_rows(1)))
    assert table.header_line == 2
    assert frames.guess_mapping(table.headers) == {
        "dossier_code": "Mã hồ sơ", "unit": "Đơn vị", "field": "Lĩnh vực", "completed_on": "Ngày hoàn thành",
        "procedure": "Thủ tục", "name": "Họ và tên", "address": "Địa chỉ", "phone": "Số điện thoại"}


def test_decomposed_tones_are_matched(ctx, tmp_path):
    import unicodedata

    line = unicodedata.normalize("NFD", "HS-D1,Phường Phố Hiến,Đất đai,15/10/2026,,Nguyễn Thị Ánh,,")
    report = frames.import_frame(ctx, unit("11953"), write_frame(tmp_path, [line]), source="s")
    assert report.created == 1
    assert ctx.scalar(select(FrameDossier.name)) == unicodedata.normalize("NFC", "Nguyễn Thị Ánh")


def test_a_missing_required_column_refuses_the_file(ctx, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Mã hồ sơ,Đơn vị\nA,11953\n", encoding="utf-8")
    with pytest.raises(frames.FrameError, match="Lĩnh vực"):
        frames.import_frame(ctx, unit("11953"), path, source="s")


def test_a_file_in_another_encoding_is_refused_with_the_fix(ctx, tmp_path):
    path = tmp_path / "cp.csv"
    path.write_bytes(HEADER.encode() + "\nHS-1,11953,dat-dai,15/10/2026,,Bà Hà,,\n".encode("cp1258"))  # à = 0xE0
    with pytest.raises(frames.FrameError, match="dòng 2.*UTF-8"):
        frames.import_frame(ctx, unit("11953"), path, source="s")


def test_xlsx_with_real_dates(ctx, tmp_path):
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Danh sách hồ sơ"])
    sheet.append(HEADER.split(","))
    sheet.append(["HS-XL1", "11953", "dat-dai", datetime(2026, 10, 5), "", "Ngô D", "", 987654321])
    path = tmp_path / "f.xlsx"
    book.save(path)
    report = frames.import_frame(ctx, unit("11953"), path, source="s")
    assert report.created == 1 and not report.rejected
    row = ctx.scalar(select(FrameDossier))
    assert row.completed_on.isoformat() == "2026-10-05" and row.phone == "0987654321"


def test_a_file_without_a_table_header_is_refused_with_the_fix(ctx, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("Danh sách\nHS-1\nHS-2\n", encoding="utf-8")
    with pytest.raises(frames.FrameError, match="dòng tiêu đề"):
        frames.import_frame(ctx, unit("11953"), path, source="s")
