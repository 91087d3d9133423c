"""Sampling fixtures: the staff tree (a province, two communes, one account per role) and frame
files written inline, so each test states the rows it is about."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Unit
from tests.staff.conftest import as_role, tree  # noqa: F401  (fixtures)

HEADER = "Mã hồ sơ,Đơn vị,Lĩnh vực,Ngày hoàn thành,Thủ tục,Họ và tên,Địa chỉ,Số điện thoại"


def frame_rows(n: int, unit: str = "11953", field: str = "dat-dai", start: int = 1, day: str = "15/10/2026") -> list[str]:
    return [f"HS-{unit}-{field}-{i:05d},{unit},{field},{day},Cấp GCN,Nguyễn Văn {i},Thôn {i},09{i:08d}"
            for i in range(start, start + n)]


def write_frame(tmp_path: Path, lines: list[str], name: str = "frame.csv", title: bool = True) -> Path:
    path = tmp_path / name
    body = (["DANH SÁCH HỒ SƠ ĐÃ GIẢI QUYẾT QUÝ IV/2026,,,,,,,"] if title else []) + [HEADER, *lines]
    path.write_text("\ufeff" + "\n".join(body) + "\n", encoding="utf-8")
    return path


def unit(code: str) -> Unit:
    return get_session().scalar(select(Unit).filter_by(code=code))


@pytest.fixture
def ctx(app, tree):  # noqa: F811
    """An app context on the staff tree."""
    with app.app_context():
        yield get_session()


def make_draw(session, unit_code: str, n: int = 12, seed: str = "route-walk") -> int:
    """A frame of n dossiers in the unit, a design over it and a draw; returns the draw id."""
    from survey.models import Field, FrameDossier, FrameImport
    from survey.sampling import design, draws

    u = unit(unit_code)
    fld = session.scalar(select(Field).filter_by(code="dat-dai"))
    batch = FrameImport(unit_id=u.id, source="test", filename="t.csv", file_sha256="0" * 64)
    session.add(batch)
    session.flush()
    session.add_all(FrameDossier(dossier_code=f"RW-{unit_code}-{i}", unit_id=u.id, field_id=fld.id,
                                 completed_on=date(2026, 10, 15), name=f"Người {i}", phone="0912000000",
                                 import_id=batch.id) for i in range(n))
    session.flush()
    saved = design.save(session, design.Params(u, date(2026, 10, 1), date(2026, 12, 31), total=5), "test")
    return draws.draw(session, saved, seed).id


@pytest.fixture
def sample_draws(app, tree):  # noqa: F811
    """A draw in commune A and one in commune B, their ids in tree.ids (draw_a, draw_b)."""
    with app.app_context():
        session = get_session()
        tree.ids["draw_a"] = make_draw(session, tree.commune_a)
        tree.ids["draw_b"] = make_draw(session, tree.commune_b)
        session.commit()
    return tree
