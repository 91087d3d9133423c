"""An audit row for each audited action, written in the action's own transaction; rows cannot be
changed or deleted through any route, nor through the ORM."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import AuditEvent
from tests.staff.conftest import audit_rows, login, token_for

QUICK_YAML = "questionnaires/counter-quick.yaml"


def next_version(path: str) -> bytes:
    """The bundled definition as the next version, with one wording changed."""
    text = Path(path).read_text(encoding="utf-8")
    version = int(re.search(r"^version: (\d+)$", text, re.MULTILINE).group(1))
    return text.replace(f"\nversion: {version}\n", f"\nversion: {version + 1}\n").encode()


def snapshot(app) -> list[tuple]:
    return [(r.id, r.at, r.actor_id, r.actor_login, r.action, r.unit_id, r.target, r.detail, r.remote_addr)
            for r in audit_rows(app)]


def test_each_audited_action_leaves_a_row(app, tree, as_role):
    admin = as_role("system_admin")
    t = token_for(admin)
    steps = [
        ("user_created", lambda: admin.post("/staff/users/new", data={"login": "le.thi.b", "full_name": "Lê Thị B", "csrf_token": t})),
        ("role_granted", lambda: admin.post(f"/staff/users/{tree.ids['victim']}/roles",
                                            data={"role": "coordinator", "unit_code": tree.commune_b, "csrf_token": t})),
        ("role_revoked", lambda: admin.post(f"/staff/roles/{tree.grant_victim}/revoke", data={"csrf_token": t})),
        ("user_disabled", lambda: admin.post(f"/staff/users/{tree.ids['victim']}/disable", data={"csrf_token": t})),
        ("user_enabled", lambda: admin.post(f"/staff/users/{tree.ids['victim']}/enable", data={"csrf_token": t})),
        ("password_reset", lambda: admin.post(f"/staff/users/{tree.ids['victim']}/reset", data={"csrf_token": t})),
        ("unit_updated", lambda: admin.post(f"/staff/units/{tree.commune_a}",
                                            data={"name": "Phường Phố Hiến mới", "kind": "ward", "active": "y", "csrf_token": t})),
        ("unit_created", lambda: admin.post(f"/staff/units/{tree.commune_a}/children",
                                            data={"child-code": "11953-TT", "child-name": "Tổ tiếp nhận", "child-kind": "other", "csrf_token": t})),
        ("counter_created", lambda: admin.post(f"/staff/units/{tree.commune_a}/counters",
                                               data={"counter-code": "MC9", "counter-name": "Quầy 9", "counter-questionnaire": "counter-quick",
                                                     "counter-fields": ["dat-dai", "xay-dung"], "csrf_token": t})),
        ("counter_updated", lambda: admin.post(f"/staff/counters/{tree.counter_a}",
                                               data={"name": "Quầy 1", "questionnaire": "counter-quick", "fields": ["xay-dung"], "active": "y", "csrf_token": t})),
        ("credential_rotated", lambda: admin.post(f"/staff/units/{tree.commune_a}/credentials", data={"csrf_token": t})),
        ("export", lambda: admin.get(f"/staff/counters/{tree.counter_a}/qr.png")),
        ("questionnaire_published", lambda: admin.post("/staff/questionnaires", content_type="multipart/form-data", data={
            "csrf_token": t, "definition": (io.BytesIO(next_version(QUICK_YAML)), "quick-next.yaml")})),
        ("export", lambda: admin.get("/staff/audit.csv")),
    ]
    for action, step in steps:
        before = len(audit_rows(app, action))
        resp = step()
        assert resp.status_code in (200, 302), (action, resp.status_code, resp.get_data(as_text=True)[:2000])
        rows = audit_rows(app, action)
        assert len(rows) == before + 1, action
        assert rows[-1].actor_id == tree.ids["system_admin"] and rows[-1].remote_addr, action
    granted = audit_rows(app, "role_granted")[-1]
    assert json.loads(granted.detail) == {"role": "coordinator"} and granted.target == "nan.nhan"
    updated = audit_rows(app, "counter_updated")[-1]
    assert json.loads(updated.detail)["before"]["fields"] == ["dat-dai"]
    assert json.loads(updated.detail)["after"]["fields"] == ["xay-dung"]


def test_login_logout_and_denials_are_audited(app, tree, as_role):
    client = app.test_client()
    login(client, tree.users["reader"], "wrong password again")
    login(client, tree.users["reader"])
    client.get("/staff/users")  # a reader asking for an administrator page
    client.post("/staff/logout", data={"csrf_token": token_for(client)})
    assert [r.action for r in audit_rows(app)] == ["login_failed", "login", "access_denied", "logout"]


def test_audit_page_and_csv(app, tree, as_role):
    login(app.test_client(), tree.users["reader"], "wrong password again")
    admin = as_role("system_admin")
    page = admin.get("/staff/audit?action=login_failed")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Đăng nhập sai" in html and tree.users["reader"] in html
    csv = admin.get("/staff/audit.csv?action=login_failed")
    body = csv.get_data(as_text=True)
    assert body.startswith("\ufeffid,at_utc,vietnam_time,actor,action")
    assert body.count("login_failed") == 1 and csv.mimetype == "text/csv"
    assert admin.get("/staff/audit?action=nonsense").status_code == 400
    assert admin.get("/staff/audit?page=abc").status_code == 400


def test_no_route_changes_audit_rows(app, tree, as_role):
    """Post to every state-changing route as the system administrator: earlier rows stay as they were."""
    login(app.test_client(), tree.users["reader"], "wrong password again")
    admin = as_role("system_admin")
    before = snapshot(app)
    assert before
    audit_rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert audit_rules and all(r.methods - {"HEAD", "OPTIONS"} == {"GET"} for r in audit_rules)
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or not rule.rule.startswith("/staff/") or rule.endpoint == "staff.logout":
            continue
        url = rule.rule.replace("<code>", tree.commune_a).replace("<int:counter_id>", str(tree.counter_a))
        url = url.replace("<int:user_id>", str(tree.ids["victim"])).replace("<int:grant_id>", str(tree.grant_victim))
        admin.post(url, data={"csrf_token": token_for(admin), "id": before[0][0], "action": "login"})
    after = snapshot(app)
    assert after[:len(before)] == before


def test_the_orm_refuses_to_change_or_delete_an_audit_row(app, tree):
    login(app.test_client(), tree.users["reader"], "wrong password again")
    with app.app_context():
        session = get_session()
        row = session.scalar(select(AuditEvent))
        row.action = "login"
        with pytest.raises(PermissionError):
            session.flush()
        session.rollback()
        session.delete(session.scalar(select(AuditEvent)))
        with pytest.raises(PermissionError):
            session.flush()
        session.rollback()
    assert [r.action for r in audit_rows(app)] == ["login_failed"]


def test_bulk_statements_are_the_only_way_and_the_app_has_none():
    """Bulk UPDATE/DELETE bypass ORM events: no module of the app may issue one on audit_events."""
    root = Path(__file__).resolve().parents[2] / "survey"
    offenders = [str(p) for p in root.rglob("*.py")
                 if ("update(AuditEvent" in p.read_text() or "delete(AuditEvent" in p.read_text())]
    assert offenders == []


def test_csv_cells_typed_by_strangers_are_never_formulas(app, tree, as_role):
    login(app.test_client(), '=HYPERLINK("http://evil.example","x")', "wrong password again")
    body = as_role("system_admin").get("/staff/audit.csv?action=login_failed").get_data(as_text=True)
    assert "'=HYPERLINK" in body and ',"=HYPERLINK' not in body
