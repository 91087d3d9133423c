"""The route walk: EVERY registered route is held against a role × route table. A route with no
row fails the test, so a new page cannot ship without someone deciding who may open it.

Rows: OPEN (anyone; citizen side, health, the key-authenticated API, log-in/out), LOGGED_IN
(any account), or a permission from survey.staff.scope.PERMISSIONS; `scoped` rows take a unit
from the URL, and an administrator of another commune must get 403 there.
"""
from __future__ import annotations

import pytest

from survey.staff.scope import LOGGED_IN, PERMISSIONS
from tests.reporting.published_fixture import published_reports  # noqa: F401  (fixture: a report in each commune)
from tests.sampling.conftest import sample_draws  # noqa: F401  (fixture: a draw in each commune)
from tests.staff.conftest import token_for
from tests.staff.test_account_admin import victim_two_roles  # noqa: F401  (fixture: the victim keeps a role after one is revoked)
from tests.sampling.test_frame_jobs import frame_jobs  # noqa: F401  (fixture: a finished frame import job in each commune)
from tests.staff.test_jobs import poster_jobs  # noqa: F401  (fixture: a finished poster job in each commune)

OPEN = "open"
# endpoint → (who, scoped to a unit in the URL?)
ROUTES: dict[str, tuple[str, bool]] = {
    "static": (OPEN, False),
    "public.index": (OPEN, False),
    "public.questionnaire": (OPEN, False),
    "public.thanks": (OPEN, False),
    "public.counter_form": (OPEN, False),
    "public.dossier_form": (OPEN, False),
    "public.letter_link": (OPEN, False),
    "health.healthz": (OPEN, False),
    "api.mint_dossier_link": (OPEN, False),  # its own bearer-key authentication (tests/qr/test_api.py)
    "staff.login": (OPEN, False),
    "staff.logout": (OPEN, False),
    "staff.password": (LOGGED_IN, False),
    "staff.start": (LOGGED_IN, False),
    "staff.users": ("manage_users", False),
    "staff.user_new": ("manage_users", False),
    "staff.user": ("manage_users", False),
    "staff.user_disable": ("manage_users", False),
    "staff.user_enable": ("manage_users", False),
    "staff.user_reset": ("manage_users", False),
    "staff.user_grant": ("manage_users", False),
    "staff.role_revoke": ("manage_users", False),
    "staff.audit_log": ("view_audit", False),
    "staff.audit_csv": ("view_audit", False),
    "staff_registry.units": ("manage_registry", False),
    "staff_registry.unit": ("manage_registry", True),
    "staff_registry.unit_edit": ("manage_registry", True),
    "staff_registry.unit_add_child": ("manage_registry", True),
    "staff_registry.counter_add": ("manage_registry", True),
    "staff_registry.unit_credentials": ("manage_registry", True),
    "staff_registry.unit_posters": ("manage_registry", True),
    "staff_registry.counter": ("manage_registry", True),
    "staff_registry.counter_edit": ("manage_registry", True),
    "staff_registry.counter_poster": ("manage_registry", True),
    "staff_registry.counter_qr": ("manage_registry", True),
    "staff_registry.poster_job_start": ("manage_registry", True),
    "staff_registry.poster_job": ("manage_registry", True),
    "staff_registry.poster_job_download": ("manage_registry", True),
    "staff_registry.poster_job_again": ("manage_registry", True),
    "staff_registry.unit_move": ("manage_registry", True),
    "staff_registry.questionnaires": ("manage_catalogue", False),
    "staff_registry.questionnaire_publish": ("manage_catalogue", False),
    "staff_reports.index": ("view_reports", False),
    "staff_reports.dashboard_page": ("view_reports", True),
    "staff_reports.workbook_xlsx": ("view_reports", True),
    "staff_reports.chart_svg": ("view_reports", True),
    "staff_reports.comments": ("view_reports", True),
    "staff_reports.comment_reviewed": ("view_reports", True),
    "staff_reports.report_pdf": ("view_reports", True),
    # published reports: a list, publishing, downloads; no route edits or deletes one (test_snapshots.py)
    "staff_reports.published": ("view_reports", True),
    "staff_reports.publish": ("view_reports", True),
    "staff_reports.published_pdf": ("view_reports", True),
    "staff_reports.published_xlsx": ("view_reports", True),
    "staff_reports.published_json": ("view_reports", True),
    "staff_reports.microdata_page": ("view_reports", True),
    "staff_reports.microdata_file": ("view_reports", True),
    "staff_reports.microdata_codebook": ("view_reports", True),
    "staff_sampling.index": ("manage_samples", False),
    "staff_sampling.frames_page": ("manage_samples", True),
    "staff_sampling.frame_upload": ("manage_samples", True),
    "staff_sampling.frame_import": ("manage_samples", True),
    "staff_sampling.frame_job": ("manage_samples", True),
    "staff_sampling.frame_people": ("personal_data", True),
    "staff_sampling.design": ("manage_samples", True),
    "staff_sampling.design_post": ("manage_samples", True),
    "staff_sampling.draw": ("personal_data", True),
    "staff_sampling.draw_export": ("personal_data", True),
    "staff_sampling.draw_status": ("manage_samples", True),
    "staff_sampling.draw_letters": ("personal_data", True),
    "staff_sampling.draw_paper_forms": ("personal_data", True),
    "staff_entry.entry_page": ("manage_samples", True),
    "staff_entry.entry_mode": ("manage_samples", True),
    "staff_entry.settle": ("manage_samples", True),
    "staff_entry.recheck_page": ("personal_data", True),
    "staff_entry.phone": ("personal_data", True),
    "staff_sampling.draw_estimates": ("view_reports", True),
}
# the accounts of tests/staff/conftest.py, in the order they are tried (system administrator last:
# its allowed POSTs change things, e.g. revoking the victim's role)
ROLE_ACCOUNTS = {"reader": "reader", "coordinator": "coordinator", "unit_admin": "unit_admin", "system_admin": "system_admin"}


def url_args(tree) -> dict:
    """Arguments that make each route's URL point into commune A (the accounts' own subtree)."""
    return {
        "key": "sipas-2017", "code": tree.commune_a, "token": "x" * 20, "filename": "site.css",
        "user_id": tree.ids["victim"], "grant_id": tree.grant_victim, "counter_id": tree.counter_a, "fmt": "svg",
        "name": "criteria", "draw_id": tree.ids.get("draw_a", 0), "report_id": tree.ids.get("report_a", 0), "job_id": tree.ids.get("job_a", 0),
        "frame_job_id": tree.ids.get("frame_job_a", 0),
    }


def call(client, rule, endpoint: str, tree, other: bool = False):
    from flask import url_for

    args = url_args(tree)
    if other:
        args.update(code=tree.commune_b, counter_id=tree.counter_b, draw_id=tree.ids.get("draw_b", 0), report_id=tree.ids.get("report_b", 0),
                    job_id=tree.ids.get("job_b", 0), frame_job_id=tree.ids.get("frame_job_b", 0))
    with client.application.test_request_context():
        url = url_for(endpoint, **{k: v for k, v in args.items() if k in rule.arguments})
    if endpoint.endswith("counter_form"):
        url = "/c/doesnotexist12"
    if "GET" in rule.methods:
        resp = client.get(url)
    else:
        resp = client.post(url, data={"csrf_token": token_for(client)})
    resp.close()  # a static file response holds its file open until closed
    return resp


def to_login(resp) -> bool:
    return resp.status_code == 302 and "/staff/login" in resp.headers["Location"]


def test_every_route_has_a_row(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - set(ROUTES)
    assert not missing, f"routes without a row in the role × route table: {sorted(missing)}"
    assert not set(ROUTES) - endpoints, "rows for routes that no longer exist"


def test_staff_views_declare_the_permission_the_table_expects(app):
    for endpoint, (who, _scoped) in ROUTES.items():
        view = app.view_functions[endpoint]
        if endpoint.startswith("staff") and who != OPEN and endpoint != "staff.password":
            assert getattr(view, "staff_permission", None) == who, endpoint
        assert who in (OPEN, LOGGED_IN) or who in PERMISSIONS, endpoint


def test_route_walk(app, tree, as_role, published_reports, sample_draws, poster_jobs, frame_jobs, victim_two_roles):
    anonymous = app.test_client()
    problems = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        who, scoped = ROUTES[rule.endpoint]
        resp = call(anonymous, rule, rule.endpoint, tree)
        if who == OPEN:
            if (to_login(resp) and rule.endpoint != "staff.logout") or resp.status_code >= 500 or resp.status_code == 403:
                problems.append(f"anonymous {rule.rule}: {resp.status_code} (open route)")
            continue
        if not (to_login(resp) or resp.status_code == 404):
            problems.append(f"anonymous {rule.rule}: {resp.status_code}, expected 302 to log-in")
        if scoped:  # an administrator of commune B asks for commune A's pages by editing the URL
            resp = call(as_role("other_admin"), rule, rule.endpoint, tree)
            if resp.status_code != 403:
                problems.append(f"other subtree {rule.rule}: {resp.status_code}, expected 403")
        for role, account in ROLE_ACCOUNTS.items():
            allowed = who == LOGGED_IN or role in PERMISSIONS[who]
            resp = call(as_role(account), rule, rule.endpoint, tree)
            if allowed and (resp.status_code in (403, 404, 405) or resp.status_code >= 500 or to_login(resp)):
                problems.append(f"{role} {rule.rule}: {resp.status_code}, expected allowed")
            if not allowed and resp.status_code != 403:
                problems.append(f"{role} {rule.rule}: {resp.status_code}, expected 403")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/staff/units/12001", "/staff/units/12001/posters.pdf?size=a6"])
def test_province_administrator_covers_every_commune_below(as_role, path):
    assert as_role("province_admin").get(path).status_code == 200


def test_unit_list_shows_only_the_users_subtree(as_role, tree):
    html = as_role("unit_admin").get("/staff/units").get_data(as_text=True)
    assert "Phường Phố Hiến" in html and "Xã Tân Hưng" not in html and "Tỉnh Hưng Yên" not in html
    html = as_role("province_admin").get("/staff/units").get_data(as_text=True)
    assert all(name in html for name in ("Phường Phố Hiến", "Xã Tân Hưng", "Tỉnh Hưng Yên"))
