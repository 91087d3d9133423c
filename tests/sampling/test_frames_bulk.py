"""The frame import's fast path: rows are stored in the driver's own form (ISO text dates on SQLite,
COPY on PostgreSQL) and compared in that form on the next import, so every column must round-trip
exactly; unit, field and date texts are remembered per import, so a bad one is still reported on
every row that carries it; SQLite's page cache is raised for the import only."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.models import FrameDossier
from survey.sampling import frames
from tests.sampling.conftest import unit, write_frame


def test_every_column_round_trips_so_the_same_file_again_is_unchanged(ctx, tmp_path):
    long = "Thôn Đông " * 60  # 600 characters: cut to the column's 400
    lines = [
        f"HS-B1,11953,dat-dai,15/10/2026,Cấp GCN,Nguyễn Thị Ánh,{long},0912345678",
        "HS-B2,Phường Phố Hiến,Đất đai,2026-10-16,,,,",  # optional cells empty: stored as NULL
        "HS-B3,11953,dat-dai,46310",  # a short row (no optional cells at all) and an Excel serial date
        "HS-B4,11953,dat-dai,15/10/2026,Cấp GCN,Lê B,Thôn 4,84 912 345 679",  # +84 number repaired
    ]
    path = write_frame(tmp_path, lines)
    first = frames.import_frame(ctx, unit("11953"), path, source="s")
    assert (first.created, first.rejected) == (4, [])
    rows = {r.dossier_code: r for r in ctx.scalars(select(FrameDossier))}
    assert len(rows["HS-B1"].address) == 400 and rows["HS-B1"].address == long[:400]
    assert rows["HS-B1"].name == "Nguyễn Thị Ánh" and rows["HS-B1"].phone == "0912345678"
    assert (rows["HS-B2"].procedure, rows["HS-B2"].name, rows["HS-B2"].phone) == (None, None, None)
    assert rows["HS-B3"].completed_on.isoformat() == "2026-10-15" and rows["HS-B3"].address is None
    assert rows["HS-B4"].phone == "0912345679"
    again = frames.import_frame(ctx, unit("11953"), path, source="s")
    assert (again.created, again.unchanged, again.rejected) == (0, 4, [])


def test_a_remembered_bad_text_is_reported_on_every_row(ctx, tmp_path):
    lines = [
        "HS-C1,11953,dat-dai,31/02/2026,,,,",
        "HS-C2,11953,dat-dai,15/10/2026,,,,",
        "HS-C3,11953,dat-dai,31/02/2026,,,,",  # the same bad date again
        "HS-C4,99999,dat-dai,15/10/2026,,,,",
        "HS-C5,99999,dat-dai,15/10/2026,,,,",  # the same unknown unit again
        "HS-C6,11953,thu-cong,15/10/2026,,,,",
        "HS-C7,11953,thu-cong,15/10/2026,,,,",  # the same unknown field again
    ]
    report = frames.import_frame(ctx, unit("11953"), write_frame(tmp_path, lines), source="s")
    assert report.created == 1
    assert [(line, reason.split("“")[1].split("”")[0]) for line, reason, _fix in report.rejected] == [
        (3, "31/02/2026"), (5, "31/02/2026"), (6, "99999"), (7, "99999"), (8, "thu-cong"), (9, "thu-cong")]


def test_an_unmapped_optional_column_is_left_empty(ctx, tmp_path):
    mapping = {"dossier_code": "Mã hồ sơ", "unit": "Đơn vị", "field": "Lĩnh vực", "completed_on": "Ngày hoàn thành"}
    path = write_frame(tmp_path, ["HS-D1,11953,dat-dai,15/10/2026,Cấp GCN,Trần C,Thôn 1,0912345678"])
    report = frames.import_frame(ctx, unit("11953"), path, source="s", mapping=mapping)
    assert report.created == 1
    row = ctx.scalar(select(FrameDossier))
    assert (row.procedure, row.name, row.address, row.phone) == (None, None, None, None)


@pytest.mark.db("sqlite")
def test_sqlite_page_cache_is_raised_for_the_import_only(ctx, tmp_path):
    def cache_size() -> int:
        return ctx.connection().exec_driver_sql("PRAGMA cache_size").scalar()

    before = cache_size()
    during: list[int] = []
    path = write_frame(tmp_path, ["HS-E1,11953,dat-dai,15/10/2026,,,,"])
    frames.import_frame(ctx, unit("11953"), path, source="s", progress=lambda _n: during.append(cache_size()))
    assert during == [-frames.IMPORT_CACHE_KIB] and before != -frames.IMPORT_CACHE_KIB
    assert cache_size() == before
