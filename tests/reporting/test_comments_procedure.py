"""The procedure filter narrows the citizens' comments as it narrows the figures: the comments page,
its re-filter form and review redirect, and the PDF report's comments. The expected comments are
the inserted rows tagged here, never read back from the code under test."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select, update

from survey.db import get_session
from survey.models import Answer, Field, Procedure, Response
from survey.reporting import dashboard, files, pdf_report
from tests.staff.conftest import as_role, csrf_token, tree  # noqa: F401  (fixtures)
from tests.staff.test_reports_pages import QUARTER, seed_commune

TEXT = re.compile(r"ý kiến số (\d+)\b")


@pytest.fixture
def tagged(app, tree):  # noqa: F811
    """Commune responses; every third land response is of procedure DD-01; each comment names its response."""
    rows = seed_commune(app, n=120, seed_value=8)
    mine = {r.id for r in rows if r.field == "dat-dai" and r.id % 3 == 0}
    with app.app_context():
        session = get_session()
        land = session.scalar(select(Field.id).where(Field.code == "dat-dai"))
        procedure = Procedure(code="DD-01", name_vi="Cấp đổi giấy chứng nhận", field_id=land)
        session.add(procedure)
        session.flush()
        session.execute(update(Response).where(Response.id.in_(mine)).values(procedure_id=procedure.id))
        for answer in session.scalars(select(Answer).where(Answer.item_key == "comment")):
            answer.text = f"ý kiến số {answer.response_id}"
        session.commit()
    expected = {r.id for r in rows if r.id in mine and r.unit == "11953" and not r.flags}
    everyone = {r.id for r in rows if r.unit == "11953" and not r.flags}
    assert 0 < len(expected) < 50 and len(everyone) > len(expected)
    return expected, everyone


def shown(html: str) -> set[int]:
    return {int(n) for n in TEXT.findall(html)}


def test_the_comments_page_keeps_to_the_chosen_procedure(as_role, tagged):  # noqa: F811
    expected, everyone = tagged
    reader = as_role("reader")
    query = {**QUARTER, "thu_tuc": "DD-01"}
    html = reader.get("/staff/reports/11953/comments", query_string=query).get_data(as_text=True)
    assert shown(html) == expected
    assert 'name="thu_tuc" value="DD-01"' in html, "filtering again by field or score keeps the procedure"
    unfiltered = shown(reader.get("/staff/reports/11953/comments", query_string=QUARTER).get_data(as_text=True))
    assert unfiltered - expected and unfiltered <= everyone, "without the filter, other procedures' comments show"
    # marking one reviewed comes back to the same filtered list
    answer_id = re.search(r'name="answer_id" value="(\d+)"', html).group(1)
    resp = reader.post("/staff/reports/11953/comments/reviewed", query_string=query,
                       data={"answer_id": answer_id, "csrf_token": csrf_token(html)})
    assert resp.status_code == 302 and "thu_tuc=DD-01" in resp.headers["Location"]
    bad = reader.get("/staff/reports/11953/comments", query_string={**QUARTER, "thu_tuc": "KHONG-CO"})
    assert bad.status_code == 400 and "KHONG-CO" in bad.get_data(as_text=True)


def test_the_pdf_prints_only_the_procedures_comments(app, tagged):
    expected, _everyone = tagged
    with app.test_request_context():
        session = get_session()
        board = dashboard.build(session, dashboard.Filters(dashboard.parse_period("quarter", "2025-Q1"), "11953",
                                                           procedure="DD-01"))
        ctx = pdf_report.context(session, board, files.cutoff(session, board), datetime(2025, 4, 2).date())
    assert {int(TEXT.fullmatch(c.text).group(1)) for c in ctx["comments"]} == expected
