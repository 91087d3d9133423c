"""SQLite has one writer. A frame import stages its checked rows in a temp table and writes the
main file once, at the end, so a citizen's submission (any other writer) is not held behind a
minutes-long import; the import still keeps the whole file or nothing."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.models import FrameDossier, FrameImport, Unit
from survey.sampling import frames
from tests.sampling.conftest import unit, write_frame

pytestmark = pytest.mark.db("sqlite")


def other_writer(session) -> sqlite3.Connection:
    """A second connection to the same file that will not wait for the writer slot."""
    return sqlite3.connect(session.get_bind().url.database, timeout=0, isolation_level=None)


def lines(count: int, start: int = 0) -> list[str]:
    return [f"HS-S{i:06d},11953,dat-dai,15/10/2026,,,," for i in range(start, start + count)]


def test_another_writer_commits_while_the_import_runs(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "BATCH", 50)
    path = write_frame(tmp_path, lines(200))
    other = other_writer(ctx)
    name_before = ctx.scalar(select(Unit.name).filter_by(code="11953"))
    writes = []

    def progress(_n: int) -> None:  # between batches: a writer that would fail at once if the slot were held
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE units SET name = name || '.' WHERE code = '11953'")
        other.execute("COMMIT")
        writes.append(other.execute("SELECT count(*) FROM frame_dossiers").fetchone()[0])

    report = frames.import_frame(ctx, unit("11953"), path, source="s", progress=progress)
    assert writes == [0, 0, 0, 0]  # four batches staged, none of them in the main file yet
    ctx.commit()
    assert report.created == 200 and ctx.scalar(select(func.count()).select_from(FrameDossier)) == 200
    assert ctx.scalar(select(Unit.name).filter_by(code="11953")) == name_before + "...."  # the other writes kept
    imported = ctx.get(FrameImport, report.import_id)
    assert {d.import_id for d in ctx.scalars(select(FrameDossier))} == {imported.id}
    assert ctx.connection().connection.driver_connection.isolation_level == ""  # back to the pool as it was


def test_a_failure_while_staging_leaves_nothing(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "BATCH", 50)
    path = write_frame(tmp_path, lines(200))

    def progress(_n: int) -> None:
        raise RuntimeError("server stopped")

    with pytest.raises(RuntimeError):
        frames.import_frame(ctx, unit("11953"), path, source="s", progress=progress)
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(FrameDossier)) == 0
    assert ctx.scalar(select(func.count()).select_from(FrameImport)) == 0
    again = frames.import_frame(ctx, unit("11953"), path, source="s")  # the temp table left nothing behind
    ctx.commit()
    assert again.created == 200


def test_the_same_codes_added_meanwhile_fail_the_import_with_its_fix(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "BATCH", 50)
    ours = write_frame(tmp_path, lines(100), name="ours.csv")
    theirs = write_frame(tmp_path, lines(1), name="theirs.csv")  # a code of our first batch, already staged
    done = []

    def progress(_n: int) -> None:  # another coordinator's import of an overlapping file ends first
        if not done:
            done.append(1)
            with Session(ctx.get_bind()) as other:
                frames.import_frame(other, other.get(Unit, unit("11953").id), theirs, source="t")
                other.commit()

    with pytest.raises(frames.FrameError, match="nhập lại tệp"):
        frames.import_frame(ctx, unit("11953"), ours, source="s", progress=progress)
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(FrameDossier)) == 1  # theirs only
    again = frames.import_frame(ctx, unit("11953"), ours, source="s")
    ctx.commit()
    assert (again.created, again.unchanged) == (99, 1)
