"""Frames at scale: a frame has its own caps (1,200,000 rows, 200 MB), not the 100,000 rows and
20 MB of the other importers; a file over them is refused naming the cap and the fix; rows are
stored in batches with the same checks across batch boundaries. Files are tiny: the caps and the
batch size are lowered for the test (bench/bench_frame_import.py runs the million rows)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey import sheets
from survey.models import FrameDossier
from survey.sampling import frames
from tests.sampling.conftest import frame_rows, unit, write_frame


def test_the_frame_caps_are_the_frames_own():
    assert frames.MAX_ROWS == 1_200_000 and frames.MAX_BYTES == 200 * 1024 * 1024
    assert sheets.MAX_ROWS == 100_000 and sheets.MAX_FILE_BYTES == 20 * 1024 * 1024  # other importers unchanged


def test_rows_over_the_frame_cap_are_refused_with_the_cap_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "MAX_ROWS", 32)
    path = write_frame(tmp_path, frame_rows(40))
    table = frames.read_table(path)  # the top 30 lines are fine; the cap is met while streaming
    with pytest.raises(sheets.TooLarge) as caught:
        list(table.rows)
    assert (caught.value.what, caught.value.limit) == ("rows", 32)
    assert "32 dòng" in frames.too_large(caught.value) and "tách tệp" in frames.too_large(caught.value)
    monkeypatch.setattr(frames, "MAX_ROWS", 4)  # met within the top lines: refused at once
    with pytest.raises(frames.FrameError, match="hơn 4 dòng.*tách tệp"):
        frames.read_table(path)


def test_bytes_over_the_frame_cap_are_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "MAX_BYTES", 1024 * 1024)
    path = write_frame(tmp_path, frame_rows(10) + ["x" * 1000] * 1100)
    with pytest.raises(frames.FrameError, match="1 MB.*CSV UTF-8"):
        frames.read_table(path)


def test_a_frame_over_the_old_caps_imports_in_batches(ctx, tmp_path, monkeypatch):
    # the shared reader's caps lowered far below this file: a frame does not use them
    monkeypatch.setattr(sheets, "MAX_ROWS", 3)
    monkeypatch.setattr(sheets, "MAX_FILE_BYTES", 200)
    monkeypatch.setattr(frames, "BATCH", 3)  # rows 3..12 over four batches
    rows = frame_rows(8)
    lines = rows + [rows[1], frame_rows(1, start=9, day="31/02/2026")[0]]  # line 11 repeats line 4 (another batch)
    path = write_frame(tmp_path, lines)
    assert path.stat().st_size > 200
    heard: list[int] = []
    report = frames.import_frame(ctx, unit("11953"), path, source="s", progress=heard.append)
    assert sum(heard) == 10 and heard[0] == 3  # every row read, a batch at a time
    assert report.created == 8 and report.unchanged == 0
    assert [(line, "dòng 4" in reason) for line, reason, _fix in report.rejected] == [(11, True), (12, False)]
    assert "31/02/2026" in report.rejected[1][1]
    assert ctx.scalar(select(func.count()).select_from(FrameDossier)) == 8
    # again, with one dossier changed since: the rest unchanged, the changed one rejected by line
    changed = [rows[0], rows[1].replace("Nguyễn Văn 2", "Nguyễn Văn Hai"), *rows[2:]]
    again = frames.import_frame(ctx, unit("11953"), write_frame(tmp_path, changed, "b.csv"), source="s")
    assert (again.created, again.unchanged, [r[0] for r in again.rejected]) == (0, 7, [4])
    assert ctx.scalar(select(func.count()).select_from(FrameDossier)) == 8


def test_a_bad_cell_deep_in_the_file_names_its_line(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "BATCH", 2)
    path = write_frame(tmp_path, frame_rows(5) + ["HS-Z,11953,dat-dai,15/10/2026,,Tên\x07,,"])
    with pytest.raises(frames.FrameError, match="dòng 8.*U\\+0007"):
        frames.import_frame(ctx, unit("11953"), path, source="s")
