"""Moving a unit under another parent: the subtree's paths follow, reports and posters of the old
and new parents see the move at once, cycles and moves out of scope are refused, all audited."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Counter, Field, Unit
from survey.registry import units
from survey.reporting import dashboard
from survey.reporting.selection import Selection
from survey.reporting.standard import counts_frame
from tests.qrkit import submit
from tests.staff.conftest import audit_rows, token_for


@pytest.fixture
def deep(app, tree):
    """Below commune A: hamlet office A1, and below it A1X with a counter that has one response."""
    with app.app_context():
        session = get_session()
        a = session.scalar(select(Unit).where(Unit.code == tree.commune_a))
        a1 = units.add_unit(session, "A1", "Điểm tiếp nhận A1", "other", a)
        a1x = units.add_unit(session, "A1X", "Tổ một cửa A1X", "other", a1)
        land = session.scalar(select(Field).where(Field.code == "dat-dai"))
        counter = units.add_counter(session, a1x, "MC9", "Quầy 9", "counter-quick", [land])
        session.commit()
        code = counter.public_code
    assert submit(app.test_client(), f"/c/{code}").status_code == 303
    return tree


def move(client, code: str, parent: str):
    return client.post(f"/staff/units/{code}/move", data={"csrf_token": token_for(client), "parent_code": parent})


def answered(session, unit_code: str) -> int:
    """Responses counted for a unit's subtree by the maintained counts (one item, so one row per response)."""
    frame = counts_frame(session, Selection("counter-quick", unit=unit_code, by=()), items=["info_published"])
    return int(frame["n"].sum()) if len(frame) else 0


def tree_of(app) -> dict[str, tuple[str | None, str]]:
    with app.app_context():
        session = get_session()
        return {u.code: (u.parent.code if u.parent else None, u.path) for u in session.scalars(select(Unit))}


def test_a_system_administrator_moves_a_subtree_and_reports_follow(app, deep, as_role):
    with app.app_context():
        session = get_session()
        assert (answered(session, "11953"), answered(session, "12001"), answered(session, "33")) == (1, 0, 1)
        before = dashboard.data_version(session)
        session.commit()
    resp = move(as_role("system_admin"), "A1", "12001")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/units/A1")
    t = tree_of(app)
    assert t["A1"][0] == "12001" and t["A1"][1].startswith(t["12001"][1]) and t["A1X"][1].startswith(t["A1"][1])
    assert t["A1X"][0] == "A1" and t["11953"][1] == tree_of(app)["11953"][1]
    with app.app_context():
        session = get_session()
        assert (answered(session, "11953"), answered(session, "12001"), answered(session, "33")) == (0, 1, 1)
        assert dashboard.data_version(session) != before  # a cached dashboard of either parent is rebuilt
        b = session.scalar(select(Unit).where(Unit.code == "12001"))
        from survey.qr import posters
        assert "MC9" in [c.code for c in posters.counters_under(session, b)]
    [row] = audit_rows(app, "unit_moved")
    assert row.target == "A1" and json.loads(row.detail) == {"before": "11953", "after": "12001"}


def test_a_unit_administrator_moves_within_his_subtree(app, deep, tree, as_role):
    with app.app_context():
        session = get_session()
        a = session.scalar(select(Unit).where(Unit.code == tree.commune_a))
        units.add_unit(session, "A2", "Điểm tiếp nhận A2", "other", a)
        session.commit()
    assert move(as_role("unit_admin"), "A1X", "A2").status_code == 302
    assert tree_of(app)["A1X"][0] == "A2"


@pytest.mark.parametrize("code, parent, words", [
    ("A1", "A1X", "cấp dưới của nó"),  # into its own descendant: a cycle
    ("A1", "A1", "cấp dưới của nó"),
    ("A1", "11953", "đã trực thuộc"),
    ("A1", "", "Vui lòng chọn"),
])
def test_cycles_and_no_ops_are_refused(app, deep, as_role, code, parent, words):
    before = tree_of(app)
    resp = move(as_role("system_admin"), code, parent)
    assert resp.status_code == 422 and words in resp.get_data(as_text=True)
    assert tree_of(app) == before and not audit_rows(app, "unit_moved")


def test_moves_out_of_the_users_subtree_are_refused(app, deep, as_role):
    before = tree_of(app)
    admin = as_role("unit_admin")  # administers commune A only
    for parent in ("12001", "33", "NOSUCH"):  # another commune, above his unit, unknown: the same words
        resp = move(admin, "A1", parent)
        assert resp.status_code == 422 and f"Không có đơn vị mã “{parent}” trong phạm vi" in resp.get_data(as_text=True)
    resp = move(admin, "11953", "A1")  # his own root unit cannot be moved by him (nor into itself)
    assert resp.status_code == 422
    assert move(as_role("other_admin"), "A1", "12001").status_code == 403  # not his unit at all
    assert move(as_role("reader"), "A1", "11953").status_code == 403
    assert tree_of(app) == before and not audit_rows(app, "unit_moved")


def test_the_unit_page_offers_only_parents_in_scope(app, deep, as_role):
    html = as_role("unit_admin").get("/staff/units/A1X").get_data(as_text=True)
    section = html.split('id="move-parent"', 1)[1].split("</select>", 1)[0]
    assert 'value="11953"' in section and 'value="12001"' not in section and 'value="33"' not in section
    assert 'value="A1"' not in section  # its parent already
    html = as_role("system_admin").get("/staff/units/A1").get_data(as_text=True)
    section = html.split('id="move-parent"', 1)[1].split("</select>", 1)[0]
    assert 'value="12001"' in section and 'value="A1X"' not in section and 'value="11953"' not in section
    with app.app_context():
        assert get_session().scalar(select(Counter).where(Counter.code == "MC9")) is not None
