"""Staff fixtures: a small tree (a province with two communes, a counter in each), one account
per role, and clients logged in as each. Passwords are set directly (the hashing is the same;
only the forced first-log-in change is skipped), except where a test creates its own account."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import AuditEvent, Field, StaffUser
from survey.qr import credentials
from survey.registry import units
from survey.staff import accounts, scope

PASSWORD = "ba con mèo nhảy qua hàng rào"  # 12+ characters, not common
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@dataclass
class Tree:
    province: str = "33"
    commune_a: str = "11953"
    commune_b: str = "12001"
    counter_a: int = 0
    counter_b: int = 0
    users: dict[str, str] = field(default_factory=dict)  # name → login
    ids: dict[str, int] = field(default_factory=dict)  # name → user id
    grant_victim: int = 0


# name → (role, unit code or None); "other_admin" administers commune B (the other subtree).
ACCOUNTS = {
    "system_admin": ("system_admin", None),
    "unit_admin": ("unit_admin", "11953"),
    "coordinator": ("coordinator", "11953"),
    "reader": ("reader", "11953"),
    "other_admin": ("unit_admin", "12001"),
    "province_admin": ("unit_admin", "33"),
}


def make_user(session, login: str, role: str | None, unit_code: str | None, password: str = PASSWORD) -> StaffUser:
    user, _ = accounts.create_user(session, login, f"Cán bộ {login}")
    user.password_hash = accounts.hash_password(password)
    user.must_change_password = False
    if role:
        unit = session.scalar(select(units.Unit).filter_by(code=unit_code)) if unit_code else None
        scope.grant(session, user, role, unit, None)
    return user


@pytest.fixture
def tree(app) -> Tree:
    t = Tree()
    with app.app_context():
        session = get_session()
        units.load_fields(session)
        fields = {f.code: f for f in session.scalars(select(Field))}
        province = units.add_unit(session, t.province, "Tỉnh Hưng Yên", "province")
        a = units.add_unit(session, t.commune_a, "Phường Phố Hiến", "ward", province)
        b = units.add_unit(session, t.commune_b, "Xã Tân Hưng", "commune", province)
        t.counter_a = units.add_counter(session, a, "MC1", "Quầy 1 – Đất đai", "counter-quick", [fields["dat-dai"]]).id
        t.counter_b = units.add_counter(session, b, "MC1", "Quầy 1 – Tư pháp", "counter-quick", [fields["tu-phap-ho-tich"]]).id
        credentials.issue(session, a)
        for name, (role, code) in ACCOUNTS.items():
            user = make_user(session, name.replace("_", "."), role, code)
            t.users[name], t.ids[name] = user.login, user.id
        victim = make_user(session, "nan.nhan", "reader", t.commune_a)
        t.ids["victim"], t.users["victim"] = victim.id, victim.login
        t.grant_victim = victim.roles[0].id
        session.commit()
    return t


def csrf_token(html: str) -> str:
    m = TOKEN.search(html)
    assert m, "the page carries a CSRF token"
    return m.group(1) or m.group(2)


def login(client, login_name: str, password: str = PASSWORD, follow: bool = False):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={"login": login_name, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))},
                       follow_redirects=follow)


def token_for(client) -> str:
    """A CSRF token of the client's session (from a page any state can open)."""
    page = client.get("/staff/login")
    return csrf_token(page.get_data(as_text=True))


@pytest.fixture
def as_role(app, tree):
    """as_role("reader") → a test client logged in as that account."""
    clients = {}

    def get(name: str):
        if name not in clients:
            c = app.test_client()
            resp = login(c, tree.users[name])
            assert resp.status_code == 302 and resp.headers["Location"].endswith("/staff/"), resp.status_code
            clients[name] = c
        return clients[name]

    return get


def audit_rows(app, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        return list(get_session().scalars(stmt))
