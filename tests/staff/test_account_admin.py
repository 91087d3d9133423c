"""Unit administrators manage the staff accounts of their subtree: create accounts with a role,
grant and revoke roles below system administrator on their units, reset passwords, disable and
enable accounts whose every role lies in their subtree. Each refusal is tested, and audited."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import RoleGrant, StaffUser, Unit
from survey.staff import scope
from tests.staff.conftest import audit_rows, make_user, token_for


@pytest.fixture
def victim_two_roles(app, tree):
    """For the route walk: the victim also coordinates commune A, so after a unit administrator
    revokes the first role the account is still in his subtree for the next routes."""
    with app.app_context():
        session = get_session()
        victim = session.get(StaffUser, tree.ids["victim"])
        scope.grant(session, victim, "coordinator", session.scalar(select(Unit).where(Unit.code == tree.commune_a)), None)
        session.commit()
    return tree


@pytest.fixture
def mixed(app, tree):
    """An account that reads commune A and commune B: not wholly inside commune A's subtree."""
    with app.app_context():
        session = get_session()
        user = make_user(session, "hai.xa", "reader", tree.commune_a)
        scope.grant(session, user, "reader", session.scalar(select(Unit).where(Unit.code == tree.commune_b)), None)
        session.commit()
        tree.ids["mixed"] = user.id
    return tree


def post(client, url: str, **data: str):
    return client.post(url, data={"csrf_token": token_for(client), **data})


def account(app, login: str) -> StaffUser | None:
    with app.app_context():
        session = get_session()
        user = session.scalar(select(StaffUser).where(StaffUser.login == login))
        if user is not None:
            _ = [(g.role, g.unit.code if g.unit else None) for g in user.roles]
            session.expunge_all()
        return user


def roles_of(app, login: str) -> set[tuple[str, str | None]]:
    with app.app_context():
        user = get_session().scalar(select(StaffUser).where(StaffUser.login == login))
        return {(g.role, g.unit.code if g.unit else None) for g in user.roles}


def test_the_list_shows_only_accounts_wholly_in_the_subtree(as_role, mixed):
    html = as_role("unit_admin").get("/staff/users").get_data(as_text=True)
    for login in ("unit.admin", "coordinator", "reader", "nan.nhan"):
        assert f">{login}</a>" in html, login
    for login in ("system.admin", "other.admin", "province.admin", "hai.xa"):
        assert f">{login}</a>" not in html, login
    html = as_role("system_admin").get("/staff/users").get_data(as_text=True)
    assert all(f">{login}</a>" in html for login in ("system.admin", "other.admin", "province.admin", "hai.xa"))


def test_a_unit_administrator_creates_an_account_with_a_role_in_his_subtree(app, as_role):
    admin = as_role("unit_admin")
    resp = post(admin, "/staff/users/new", login="can.bo.moi", full_name="Cán bộ Mới", role="coordinator", unit_code="11953")
    assert resp.status_code == 200 and "can.bo.moi" in resp.get_data(as_text=True)
    assert roles_of(app, "can.bo.moi") == {("coordinator", "11953")} and account(app, "can.bo.moi").must_change_password
    created, granted = audit_rows(app, "user_created")[-1], audit_rows(app, "role_granted")[-1]
    assert created.target == granted.target == "can.bo.moi" and granted.actor_login == "unit.admin"


@pytest.mark.parametrize("role, unit_code, words", [
    ("", "11953", "Vui lòng chọn vai trò"),  # a unit administrator's new account must land in his subtree
    ("reader", "", "Vui lòng chọn đơn vị"),
    ("system_admin", "", "Chỉ quản trị hệ thống"),
    ("reader", "12001", "Không có đơn vị mã “12001” trong phạm vi"),  # another commune
    ("unit_admin", "33", "Không có đơn vị mã “33” trong phạm vi"),  # above his unit
    ("reader", "NOSUCH", "Không có đơn vị mã “NOSUCH” trong phạm vi"),  # the same words as unknown
])
def test_account_creation_outside_the_subtree_is_refused(app, as_role, role, unit_code, words):
    resp = post(as_role("unit_admin"), "/staff/users/new", login="can.bo.moi", full_name="Cán bộ Mới", role=role, unit_code=unit_code)
    assert resp.status_code == 422 and words in resp.get_data(as_text=True)
    assert account(app, "can.bo.moi") is None and not audit_rows(app, "user_created")


def test_grants_and_revokes_within_the_subtree(app, tree, as_role):
    admin = as_role("unit_admin")
    url = f"/staff/users/{tree.ids['victim']}/roles"
    assert post(admin, url, role="coordinator", unit_code="11953").status_code == 302
    for role, code, words in (("reader", "12001", "trong phạm vi"), ("unit_admin", "33", "trong phạm vi"),
                              ("system_admin", "", "Chỉ quản trị hệ thống")):
        resp = post(admin, url, role=role, unit_code=code)
        assert resp.status_code == 422 and words in resp.get_data(as_text=True), (role, code)
    assert roles_of(app, "nan.nhan") == {("reader", "11953"), ("coordinator", "11953")}
    assert post(admin, f"/staff/roles/{tree.grant_victim}/revoke").status_code == 302
    assert roles_of(app, "nan.nhan") == {("coordinator", "11953")}
    again = post(admin, f"/staff/roles/{tree.grant_victim}/revoke")  # a second click: nothing left, no error
    assert again.status_code == 302 and again.headers["Location"].endswith("/staff/users")
    assert [r.action for r in audit_rows(app) if r.action.startswith("role_")] == ["role_granted", "role_revoked"]


def test_reset_disable_and_enable_an_account_of_the_subtree(app, tree, as_role):
    admin, url = as_role("unit_admin"), f"/staff/users/{tree.ids['victim']}"
    version = account(app, "nan.nhan").session_version
    resp = post(admin, f"{url}/reset")
    assert resp.status_code == 200 and account(app, "nan.nhan").must_change_password
    assert post(admin, f"{url}/disable").status_code == 302 and not account(app, "nan.nhan").active
    assert post(admin, f"{url}/enable").status_code == 302 and account(app, "nan.nhan").active
    assert account(app, "nan.nhan").session_version == version + 3  # each ended the account's live sessions
    assert [r.action for r in audit_rows(app) if r.target == "nan.nhan"] == ["password_reset", "user_disabled", "user_enabled"]


@pytest.mark.parametrize("target", ["system_admin", "province_admin", "other_admin", "mixed"])
def test_accounts_not_wholly_in_the_subtree_are_refused(app, tree, as_role, mixed, target):
    admin, user_id = as_role("unit_admin"), tree.ids[target]
    before = account(app, {"mixed": "hai.xa"}.get(target, tree.users.get(target)))
    assert admin.get(f"/staff/users/{user_id}").status_code == 403
    for action in ("reset", "disable", "enable"):
        assert post(admin, f"/staff/users/{user_id}/{action}").status_code == 403, action
    assert post(admin, f"/staff/users/{user_id}/roles", role="reader", unit_code="11953").status_code == 403
    with app.app_context():
        grant_id = get_session().scalar(select(RoleGrant.id).where(RoleGrant.user_id == user_id))
    assert post(admin, f"/staff/roles/{grant_id}/revoke").status_code == 403
    after = account(app, before.login)
    assert (after.password_hash, after.active, after.session_version, len(after.roles)) == (
        before.password_hash, before.active, before.session_version, len(before.roles))
    denied = audit_rows(app, "access_denied")
    assert len(denied) == 6 and all(json.loads(d.detail)["account"] == before.login for d in denied[:5])


def test_another_communes_administrator_and_readers_cannot_touch_the_account(app, tree, as_role):
    url = f"/staff/users/{tree.ids['victim']}"
    assert as_role("other_admin").get(url).status_code == 403
    assert post(as_role("other_admin"), f"{url}/reset").status_code == 403
    assert as_role("reader").get(url).status_code == 403 and as_role("coordinator").get("/staff/users").status_code == 403
    assert as_role("province_admin").get(url).status_code == 200  # the commune is below the province
