"""Registry pages: counters added and edited, the poster and QR downloads (the same output as
the CLI: their QR decodes to the counter's URL), the subtree cap, credentials shown once, and
publishing a questionnaire file with the CLI's checks."""
from __future__ import annotations

import io

from sqlalchemy import select

from survey.db import get_session
from survey.models import Counter, QuestionnaireVersion, UnitCredential
from survey.qr import credentials
from tests.qrkit import decode_image, decode_png, decode_svg, pdf_pages
from tests.staff.conftest import token_for


def counter(app, counter_id: int) -> Counter:
    with app.app_context():
        c = get_session().get(Counter, counter_id)
        _ = c.fields, c.unit
        return c


def test_counter_poster_and_qr_decode_to_the_counters_url(app, tree, as_role):
    app.config["PUBLIC_BASE_URL"] = "https://hailong.example.gov.vn"
    c = counter(app, tree.counter_a)
    expected = f"https://hailong.example.gov.vn/c/{c.public_code}"
    admin = as_role("unit_admin")
    pdf = admin.get(f"/staff/counters/{tree.counter_a}/poster.pdf?size=a6")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    assert [decode_image(page) for page in pdf_pages(pdf.data, scale=1.5)] == [[expected]]
    assert decode_png(admin.get(f"/staff/counters/{tree.counter_a}/qr.png").data) == [expected]
    assert decode_svg(admin.get(f"/staff/counters/{tree.counter_a}/qr.svg").get_data(as_text=True)) == [expected]
    assert admin.get(f"/staff/counters/{tree.counter_a}/poster.pdf?size=a3").status_code == 400
    assert admin.get(f"/staff/counters/{tree.counter_a}/qr.gif").status_code == 404


def test_subtree_posters_are_capped_and_say_so(app, tree, as_role):
    app.config["STAFF_POSTER_SYNC_LIMIT"] = 1
    resp = as_role("province_admin").get(f"/staff/units/{tree.province}/posters.pdf?size=a4")
    assert resp.status_code == 422
    assert "có 2 quầy; mỗi lần tải trên web tối đa 1 áp phích" in resp.get_data(as_text=True)
    assert as_role("province_admin").get(f"/staff/units/{tree.commune_a}/posters.pdf?size=a4").status_code == 200


def test_add_counter_with_bad_input_names_the_problem(app, tree, as_role):
    admin = as_role("unit_admin")
    resp = admin.post(f"/staff/units/{tree.commune_a}/counters", data={
        "counter-code": "MC1", "counter-name": "", "counter-questionnaire": "khong-co", "counter-fields": ["khong-co"],
        "csrf_token": token_for(admin)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for message in ("Đơn vị đã có quầy mã “MC1”.", "Tên quầy: 1–200 ký tự.", "Vui lòng chọn một phiếu khảo sát đã xuất bản.",
                    "Có lĩnh vực không hợp lệ."):
        assert message in html
    with app.app_context():
        assert len(get_session().scalars(select(Counter)).all()) == 2  # nothing stored


def test_move_a_counter_between_fields_and_disable_it(app, tree, as_role):
    admin = as_role("unit_admin")
    resp = admin.post(f"/staff/counters/{tree.counter_a}", data={
        "name": "Quầy 1 – Xây dựng", "questionnaire": "counter-quick", "fields": ["xay-dung", "dat-dai"],
        "csrf_token": token_for(admin)})
    assert resp.status_code == 302
    c = counter(app, tree.counter_a)
    assert [f.code for f in c.fields] == ["dat-dai", "xay-dung"] and not c.active and c.name == "Quầy 1 – Xây dựng"
    assert app.test_client().get(f"/c/{c.public_code}").status_code == 404  # a disabled counter's QR opens nothing


def test_credentials_are_shown_once_and_rotate(app, tree, as_role):
    admin = as_role("unit_admin")
    resp = admin.post(f"/staff/units/{tree.commune_a}/credentials", data={"csrf_token": token_for(admin)})
    html = resp.get_data(as_text=True)
    api_key = html.split('id="api-key">', 1)[1].split("<", 1)[0]
    assert resp.headers["Cache-Control"] == "no-store"
    with app.app_context():
        session = get_session()
        live = session.scalars(select(UnitCredential).where(UnitCredential.revoked_at.is_(None))).all()
        assert len(live) == 1  # the fixture's older key is revoked
        assert credentials.authenticate(session, api_key).id == live[0].id
    assert api_key not in admin.get(f"/staff/units/{tree.commune_a}").get_data(as_text=True)


def test_publish_a_questionnaire_file(app, tree, as_role):
    admin = as_role("system_admin")

    def upload(content: bytes, name: str = "q.yaml"):
        return admin.post("/staff/questionnaires", content_type="multipart/form-data",
                          data={"csrf_token": token_for(admin), "definition": (io.BytesIO(content), name)})

    bad = upload(b"key: x\nversion: [\n")
    assert bad.status_code == 422 and "Tệp không phải YAML hợp lệ" in bad.get_data(as_text=True)
    invalid = upload(b"key: thu-nghiem\nversion: 1\n")
    assert invalid.status_code == 422 and "Phiếu chưa hợp lệ: q.yaml: (cấp trên cùng): thiếu" in invalid.get_data(as_text=True)
    with open("questionnaires/counter-quick.yaml", "rb") as fh:
        same = upload(fh.read())
    assert same.status_code == 302
    page = admin.get("/staff/questionnaires").get_data(as_text=True)
    assert "không có gì thay đổi" in page and "counter-quick" in page
    with app.app_context():
        assert get_session().scalar(select(QuestionnaireVersion).filter_by(key="thu-nghiem")) is None
