"""The coordinators' pages end to end: upload → mapping → report → design preview → draw →
export, with personal data audited and hidden from readers."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from survey.db import get_session
from survey.models import Response, SampleMember
from survey.staff import jobs
from tests.conftest import FormPage
from tests.formdata import answers_for, post_body
from tests.qrkit import QUICK
from tests.sampling.conftest import HEADER, frame_rows
from tests.staff.conftest import audit_rows, csrf_token

BASE = "/staff/sampling"


def upload(client, body: str, source: str = "Một cửa điện tử", name: str = "ds.csv"):
    page = client.get(f"{BASE}/11953/frames")
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "source": source,
            "file": (io.BytesIO(("\ufeff" + body).encode()), name)}
    return client.post(f"{BASE}/11953/frames/upload", data=data, content_type="multipart/form-data")


def mapping_post(client, html: str, **override):
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    selected = dict(re.findall(r'<select id="map_(\w+)".*?<option value="([^"]*)" selected>', html, re.DOTALL))
    form = {"csrf_token": csrf_token(html), "token": token, "source": "Một cửa điện tử",
            **{f"map_{t}": h for t, h in selected.items()}, **override}
    client.application.config["STAFF_JOBS"] = "manual"
    resp = client.post(f"{BASE}/11953/frames/import", data=form)
    if resp.status_code != 303:
        return resp
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])  # the import runs as a job: run it, show its page
    assert jobs.run(client.application, job_id) == "done"
    return client.get(resp.headers["Location"])


def test_import_flow_reports_bad_rows_and_a_second_import_changes_nothing(app, as_role):
    c = as_role("coordinator")
    lines = ["TỔNG HỢP HỒ SƠ,,,,,,,", HEADER, *frame_rows(40), "HS-BAD,11953,dat-dai,2026-13-01,,,,", "HS-OUT,12001,dat-dai,15/10/2026,,,,"]
    resp = upload(c, "\n".join(lines))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "dòng 2" in html  # the title row is skipped
    resp = mapping_post(c, html)
    report = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "40 hồ sơ mới" in report and "2 dòng bị từ chối" in report
    assert "<td class=\"num-col\">43</td>" in report and "2026-13-01" in report and "<td class=\"num-col\">44</td>" in report
    again = mapping_post(c, upload(c, "\n".join(lines)).get_data(as_text=True)).get_data(as_text=True)
    assert "0 hồ sơ mới, 40 đã có" in again
    assert len(audit_rows(app, "frame_imported")) == 2
    # a software with odd headers: mapped by hand once, offered again next quarter
    odd = "Số HS,Xã,LV,Ngày trả KQ\n{code},11953,dat-dai,05/01/2027"
    html = upload(c, odd.format(code="Q1-1"), source="Phần mềm B").get_data(as_text=True)
    assert not re.search(r'<option value="LV" selected>', html)  # not guessed
    hand = {"map_dossier_code": "Số HS", "map_unit": "Xã", "map_field": "LV", "map_completed_on": "Ngày trả KQ",
            "source": "Phần mềm B"}
    assert "1 hồ sơ mới" in mapping_post(c, html, **hand).get_data(as_text=True)
    html = upload(c, odd.format(code="Q2-1"), source="Phần mềm B").get_data(as_text=True)
    assert re.search(r'<option value="LV" selected>', html) and re.search(r'<option value="Số HS" selected>', html)


def test_mapping_without_a_required_column_is_refused(as_role):
    c = as_role("coordinator")
    html = upload(c, "\n".join([HEADER, *frame_rows(2)])).get_data(as_text=True)
    resp = mapping_post(c, html, map_field="")
    assert resp.status_code == 422 and "Lĩnh vực" in resp.get_data(as_text=True)


def test_bad_uploads_get_a_page_not_a_500(as_role):
    c = as_role("coordinator")
    assert upload(c, "x", name="ds.pdf").status_code == 422
    assert upload(c, "x", source="").status_code == 422
    resp = upload(c, "Mã hồ sơ,Đơn vị\n\x00\n")
    assert resp.status_code in (400, 422)


def test_personal_data_is_audited_and_hidden_from_readers(app, as_role):
    c = as_role("coordinator")
    mapping_post(c, upload(c, "\n".join([HEADER, *frame_rows(3)])).get_data(as_text=True))
    page = c.get(f"{BASE}/11953/frames").get_data(as_text=True)
    assert "Nguyễn Văn 1" not in page  # counts only
    people = c.get(f"{BASE}/11953/frames/people")
    assert people.status_code == 200 and "Nguyễn Văn 1" in people.get_data(as_text=True)
    assert [e.target for e in audit_rows(app, "personal_data_viewed")] == [f"{BASE}/11953/frames/people"]
    for role in ("reader", "unit_admin", "system_admin"):
        assert as_role(role).get(f"{BASE}/11953/frames/people").status_code == 403


def test_design_preview_draw_and_export(app, as_role):
    c = as_role("coordinator")
    rows = frame_rows(30) + frame_rows(10, field="tu-phap-ho-tich")
    mapping_post(c, upload(c, "\n".join([HEADER, *rows, "HS-F1,11953,dat-dai,15/10/2026,,=HYPERLINK(\"x\"),,"])).get_data(as_text=True))
    page = c.get(f"{BASE}/11953/design").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "period_start": "01/10/2026", "period_end": "31/12/2026",
            "strata": "unit_field", "formula": "cochran", "confidence": "95", "margin": "5", "proportion": "50",
            "response_rate": "100", "design_effect": "1", "allocation": "proportional", "minimum": "0", "quota": "",
            "total": "12", "seed": "hanoi-2026"}
    preview = c.post(f"{BASE}/11953/design", data=form | {"action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Tổng thể 41 hồ sơ" in html and "phân bổ 12 phiếu" in html
    bad = c.post(f"{BASE}/11953/design", data=form | {"margin": "năm"})
    assert bad.status_code == 422 and "phải là một số" in bad.get_data(as_text=True)
    drawn = c.post(f"{BASE}/11953/design", data=form | {"action": "draw"})
    assert drawn.status_code == 302
    draw_page = c.get(drawn.headers["Location"]).get_data(as_text=True)
    assert "hanoi-2026" in draw_page and "Khớp" in draw_page
    from survey.sampling import views as sampling_views
    with pytest.MonkeyPatch.context() as mp:  # a draw from a frame too large to re-derive on every view
        mp.setattr(sampling_views, "AUTO_VERIFY_ROWS", 40)
        mp.setattr(sampling_views.draws, "verify", lambda *a: pytest.fail("re-derived without being asked"))
        large = c.get(drawn.headers["Location"]).get_data(as_text=True)
        assert "Khớp" not in large and "đọc toàn bộ 41 hồ sơ" in large and "kiem_tra=1" in large
    asked = c.get(drawn.headers["Location"] + "?kiem_tra=1").get_data(as_text=True)
    assert "Khớp: khung mẫu không đổi" in asked
    [event] = audit_rows(app, "sample_drawn")
    assert '"seed": "hanoi-2026"' in event.detail
    export = c.get(drawn.headers["Location"] + "/export?format=csv")
    assert export.status_code == 200
    table = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    chosen = [r for r in table if r["selected"] == "x"]
    assert len(chosen) == 12 and all(r["survey_link"].startswith("http://localhost/d/") for r in chosen)
    assert all(not r["name"].startswith("=") for r in table)  # formula-safe
    assert [e.detail for e in audit_rows(app, "export")][-1].count("sample_fieldwork_list") == 1
    # a sampled person's link opens the form; the answer is stored as the sampled survey, apart from feedback
    url = chosen[0]["survey_link"].removeprefix("http://localhost")
    citizen = app.test_client()
    form = FormPage(citizen.get(url).get_data(as_text=True))
    assert citizen.post(url, data=MultiDict(post_body(form.hidden, answers_for(QUICK)))).status_code == 303
    with app.app_context():
        db = get_session()
        assert db.scalars(select(Response.source)).all() == ["sample"]
        statuses = dict(db.execute(select(SampleMember.respondent_code, SampleMember.status)).all())
        assert statuses[chosen[0]["respondent_code"]] == "answered_online"
        assert sum(v == "answered_online" for v in statuses.values()) == 1
    xlsx = c.get(drawn.headers["Location"] + "/export")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert as_role("reader").get(drawn.headers["Location"]).status_code == 403
