"""Sampling fixtures: the staff tree (a province, two communes, one account per role) and frame
files written inline, so each test states the rows it is about."""
from __future__ import annotations

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
