"""The estimates on staff pages: readers of the subtree see them (no personal data), others get
403; the coordinator's draw page carries the same block; the CLI prints the table in Vietnamese."""
from __future__ import annotations

from sqlalchemy import select

from survey.db import get_session
from survey.models import (
    Answer,
    FrameDossier,
    QuestionnaireVersion,
    Response,
    SampleMember,
)
from survey.sampling import tracking
from tests.sampling.conftest import sample_draws  # noqa: F401
from tests.staff.conftest import as_role, csrf_token, tree  # noqa: F401


def answered(app, draw_id: int, codes: list[int]) -> None:
    """Key in paper forms for the first selected members of the draw."""
    with app.app_context():
        s = get_session()
        version = s.scalar(select(QuestionnaireVersion).filter_by(key="counter-quick"))
        members = s.scalars(select(SampleMember).where(SampleMember.draw_id == draw_id, SampleMember.selected.is_(True))
                            .order_by(SampleMember.rank)).all()
        for m, code in zip(members, codes):
            m.status = "paper_returned"
            d = s.get(FrameDossier, m.dossier_id)
            r = Response(version_id=version.id, channel="paper", unit_id=d.unit_id, field_id=d.field_id,
                         **tracking.sample_tags(m))
            r.answers.append(Answer(item_key="overall", code=code))
            s.add(r)
        s.commit()


def test_reader_sees_estimates_other_commune_403(app, tree, as_role, sample_draws):  # noqa: F811
    answered(app, tree.ids["draw_a"], [5, 4, 2])
    page = as_role("reader").get(f"/staff/sampling/draws/{tree.ids['draw_a']}/estimates")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Khảo sát chọn mẫu (ước lượng có trọng số)" in html
    assert "66,7%" in html  # 2 of 3 satisfied in a single stratum: the weights cancel
    assert "Người " not in html and "0912000000" not in html  # no names or phones from the frame
    assert as_role("other_admin").get(f"/staff/sampling/draws/{tree.ids['draw_a']}/estimates").status_code == 403


def test_draw_page_without_answers_says_so(app, tree, as_role, sample_draws):  # noqa: F811
    html = as_role("coordinator").get(f"/staff/sampling/draws/{tree.ids['draw_a']}").get_data(as_text=True)
    assert "Khảo sát chọn mẫu (ước lượng có trọng số)" in html
    assert "Chưa có phiếu trả lời nào của mẫu này" in html


def test_cli_estimate(app, tree, sample_draws, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")
    answered(app, tree.ids["draw_a"], [5, 4, 2])
    out = app.test_cli_runner().invoke(args=["sample", "estimate", str(tree.ids["draw_a"])])
    assert out.exit_code == 0, out.output
    assert "Toàn bộ mẫu" in out.output and "66,7%" in out.output and "Korn–Graubard" in out.output
    missing = app.test_cli_runner().invoke(args=["sample", "estimate", "99999"])
    assert missing.exit_code != 0 and "99999" in missing.output


def test_design_page_neyman_preview_says_where_it_fell_back(app, tree, as_role, sample_draws):  # noqa: F811
    c = as_role("coordinator")
    page = c.get("/staff/sampling/11953/design").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "period_start": "01/10/2026", "period_end": "31/12/2026",
            "strata": "unit_field", "formula": "cochran", "confidence": "95", "margin": "5", "proportion": "50",
            "response_rate": "100", "design_effect": "1", "allocation": "neyman", "minimum": "0", "quota": "",
            "total": "5", "seed": "ney"}
    preview = c.post("/staff/sampling/11953/design", data=form | {"action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "chưa đủ số liệu kỳ trước (0 phiếu): dùng 50%" in html and "01/07/2026–30/09/2026" in html
    drawn = c.post("/staff/sampling/11953/design", data=form | {"action": "draw"})
    assert drawn.status_code == 302
    assert "Neyman" in c.get(drawn.headers["Location"]).get_data(as_text=True)


def test_dashboard_shows_the_sampled_block_apart(app, tree, as_role, sample_draws):  # noqa: F811
    answered(app, tree.ids["draw_a"], [5, 4, 2])
    page = as_role("reader").get("/staff/reports/11953?ky=custom&tu=01/11/2026&den=30/11/2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:500]
    block = html.split('id="sampled"', 1)[1].split("<h2", 1)[0]
    assert f"/staff/sampling/draws/{tree.ids['draw_a']}/estimates" in block and "66,7%" in block and "3 / 5" in block
    assert f"/staff/sampling/draws/{tree.ids['draw_b']}/estimates" not in block  # another commune's draw
    other = as_role("reader").get("/staff/reports/11953?ky=custom&tu=01/01/2025&den=31/03/2025").get_data(as_text=True)
    assert "Không có lần rút mẫu nào của đơn vị này" in other
