"""The reports pages (/staff/reports): a reader's dashboard of their subtree, the Excel workbook read
back with openpyxl and checked against figures counted here (statsmodels for the Wilson interval),
the charts as SVG without script or style, comments masked and escaped, reviewed and audited."""
from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from survey.db import get_session
from survey.models import Answer, CommentReview, Response, Unit
from tests.reporting.test_reports import Row, insert, random_row
from tests.staff.conftest import audit_rows, csrf_token

QUARTER = {"ky": "quarter", "gia_tri": "2025-Q1"}


def seed_commune(app, n: int = 160, seed_value: int = 21) -> list[Row]:
    """Responses in commune A (11953) and B (12001) in the first quarter of 2025."""
    rng = random.Random(seed_value)
    rows = []
    for _ in range(n):
        r = random_row(rng, datetime(2025, 1, 1, 3, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 85 * 24 * 3600)))
        r.unit = rng.choice(["11953", "11953", "12001"])
        r.field = rng.choice(["dat-dai", "dat-dai", "tu-phap-ho-tich"])
        rows.append(r)
    with app.app_context():
        insert(get_session(), rows)
        get_session().commit()
    return rows


def satisfied(rows: list[Row], item: str = "overall") -> tuple[int, int]:
    codes = [r.answers[item] for r in rows if 1 <= r.answers.get(item, 0) <= 5]
    return sum(c >= 4 for c in codes), len(codes)


@pytest.fixture
def data(app, tree):
    return seed_commune(app)


def test_reader_opens_the_dashboard_of_their_commune(as_role, data):
    reader = as_role("reader")
    start = reader.get("/staff/reports/")
    assert start.status_code == 302 and start.headers["Location"].startswith("/staff/reports/11953")
    page = reader.get("/staff/reports/11953", query_string=QUARTER)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Quý I/2025" in html and "Đất đai" in html and "Khảo sát chọn mẫu" in html and "Góp ý tại quầy" in html
    rows = [r for r in data if r.unit == "11953" and r.field == "dat-dai" and r.source == "feedback" and not r.flags]
    x, n = satisfied(rows)
    assert f"{100 * x / n:.1f}%".replace(".", ",") in html, "the land row's percentage, Vietnamese format"
    assert "Nghị quyết" in html or "76/NQ-CP" in html, "the target's source sentence"
    assert "style=" not in html and "<script" not in html.split("</head>")[1]


def test_another_subtree_is_refused_even_by_editing_the_url(as_role, data, app):
    reader = as_role("reader")
    for path in ("/staff/reports/12001", "/staff/reports/33", "/staff/reports/12001/bao-cao.xlsx",
                 "/staff/reports/12001/chart/units.svg", "/staff/reports/12001/comments"):
        assert reader.get(path, query_string=QUARTER).status_code == 403, path
    assert as_role("province_admin").get("/staff/reports/33", query_string=QUARTER).status_code == 200
    assert any(e.target == "/staff/reports/12001" for e in audit_rows(app, "access_denied"))


@pytest.mark.parametrize("query, says", [
    ({"ky": "month", "gia_tri": "2025-13"}, "2025-03"),
    ({"ky": "custom", "tu": "31/03/2025", "den": "01/03/2025"}, "trước khi bắt đầu"),
    ({"ky": "custom", "tu": "30/02/2025", "den": "01/03/2025"}, "dd/mm/yyyy"),
    ({"ky": "week"}, "tháng, quý, năm"),
    ({"ky": "year", "gia_tri": "2025", "linh_vuc": "khong-co"}, "khong-co"),
    ({"ky": "year", "gia_tri": "2025", "kenh": "fax"}, "fax"),
])
def test_bad_filters_get_a_400_page_that_says_how_to_fix_them(as_role, data, query, says):
    resp = as_role("reader").get("/staff/reports/11953", query_string=query)
    assert resp.status_code == 400 and says in resp.get_data(as_text=True)


def test_a_period_without_responses_is_an_explicit_empty_state(as_role, data):
    html = as_role("reader").get("/staff/reports/11953", query_string={"ky": "year", "gia_tri": "2019"}).get_data(as_text=True)
    assert "Không có phiếu nào khớp với bộ lọc này" in html


def test_workbook_holds_the_figures_of_the_page(as_role, data, app):
    resp = as_role("reader").get("/staff/reports/11953/bao-cao.xlsx", query_string={**QUARTER, "linh_vuc": "dat-dai"})
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames[:5] == ["Tóm tắt", "Theo lĩnh vực", "Yếu tố – tiêu chí", "Theo đơn vị", "Phương pháp"]
    ws = wb["Theo lĩnh vực"]
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2"
    table = [dict(zip(header, [c.value for c in row])) for row in ws.iter_rows(min_row=2)]
    for source in ("feedback", "sample"):
        rows = [r for r in data if r.unit == "11953" and r.field == "dat-dai" and r.source == source and not r.flags]
        x, n = satisfied(rows)
        label = "Góp ý tại quầy (tự nguyện)" if source == "feedback" else "Khảo sát chọn mẫu"
        line = next(t for t in table if t["Nguồn"] == label and t["Mã lĩnh vực"] == "dat-dai")
        low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
        assert line["n"] == n
        assert line["% hài lòng"] == pytest.approx(x / n)
        assert (line["Khoảng tin cậy 95% – dưới"], line["Khoảng tin cậy 95% – trên"]) == (pytest.approx(low), pytest.approx(high))
        assert line["Đánh giá"] in ("Đạt", "Không đạt", "Chưa đủ cơ sở kết luận", "Chưa đủ dữ liệu")
        assert "76/NQ-CP" in line["Văn bản nguồn của chỉ tiêu"] and line["Chỉ tiêu"] == pytest.approx(0.85)
    assert ws.cell(row=2, column=7).number_format == "0.0%"
    units = list(wb["Theo đơn vị"].iter_rows(min_row=2, values_only=True))
    assert all(u[5] is None for u in units if u[4] < 30) and any(u[4] < 30 for u in units) or all(u[4] >= 30 for u in units)
    [event] = audit_rows(app, "export")
    assert event.target == "reports/11953/bao-cao.xlsx" and json.loads(event.detail)["linh_vuc"] == "dat-dai"


def test_charts_are_svg_without_script_or_style(as_role, data):
    for name in ("criteria", "units"):
        resp = as_role("reader").get(f"/staff/reports/11953/chart/{name}.svg", query_string=QUARTER)
        assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
        body = resp.get_data(as_text=True)
        assert "<svg" in body and "<script" not in body and "<style" not in body
    assert as_role("reader").get("/staff/reports/11953/chart/pie.svg").status_code == 404


def test_comments_are_masked_escaped_and_can_be_marked_reviewed(as_role, data, app):
    with app.app_context():
        session = get_session()
        answer = session.scalars(select(Answer).join(Response).join(Unit, Unit.id == Response.unit_id)
                                 .where(Answer.item_key == "comment", Unit.code == "11953")
                                 .where(~Response.flags.any()).order_by(Response.submitted_at.desc()).limit(1)).one()
        answer.text = "Gọi tôi 0912 345 678, CCCD 001095012345, a.b@mail.vn <script>alert(1)</script>"
        answer_id = answer.id
        session.commit()
    reader = as_role("reader")
    html = reader.get("/staff/reports/11953/comments", query_string=QUARTER).get_data(as_text=True)
    assert "0912 345 678" not in html and "001095012345" not in html and "a.b@mail.vn" not in html
    assert "[số điện thoại đã ẩn]" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    resp = reader.post("/staff/reports/11953/comments/reviewed", query_string=QUARTER,
                       data={"answer_id": answer_id, "csrf_token": csrf_token(html)})
    assert resp.status_code == 302
    with app.app_context():
        review = get_session().get(CommentReview, answer_id)
        assert review is not None
    [event] = audit_rows(app, "comment_reviewed")
    assert event.target == f"answer {answer_id}"
    other = as_role("other_admin")
    page = other.get("/staff/reports/12001/comments", query_string=QUARTER).get_data(as_text=True)
    assert other.post("/staff/reports/12001/comments/reviewed", data={"answer_id": answer_id, "csrf_token": csrf_token(page)}).status_code == 404
