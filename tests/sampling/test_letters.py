"""Invitation letters and paper questionnaires: print the PDF, rasterise each page, read the QR
codes with zbar, follow the letter's link to the form and answer it exactly once."""
from __future__ import annotations

import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from survey.db import get_session
from survey.models import Response, SampleDraw, SampleMember
from survey.sampling import shortlinks
from tests.qrkit import decode_image, path_of, pdf_pages, submit
from tests.sampling.conftest import sample_draws  # noqa: F401  (fixture)
from tests.staff.conftest import audit_rows

A4, A5 = (595.3, 841.9), (419.5, 595.3)  # PDF points
SHORT = re.compile(r"^http://localhost/m/(M\d+-\d{6})-([2-9A-HJKMNP-Z]{6})$")


def pdf_facts(data: bytes) -> tuple[list[tuple[float, float]], list[str]]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        sizes = [tuple(round(v, 1) for v in pdf[i].get_size()) for i in range(len(pdf))]
        texts = [" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf))]
        return sizes, texts
    finally:
        pdf.close()


def members(app, draw_id: int) -> dict[str, SampleMember]:
    with app.app_context():
        return {m.respondent_code: m for m in get_session().scalars(select(SampleMember).filter_by(draw_id=draw_id))}


def independent_check(code: str, secret: str = "test-secret") -> str:
    """The check of a short link computed from its definition: HKDF-SHA256 of the link key, HMAC-SHA256
    of the respondent code, the first 8 bytes read as a number, six base-31 digits, least significant first."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sipas letter short link v1").derive(secret.encode())
    number = int.from_bytes(hmac.new(key, code.encode(), hashlib.sha256).digest()[:8], "big")
    digits = []
    for _ in range(6):
        number, rest = divmod(number, 31)
        digits.append("23456789ABCDEFGHJKMNPQRSTUVWXYZ"[rest])
    return "".join(digits)


def test_letters_carry_personal_qr_codes_that_open_a_form_answering_once(app, tree, as_role, sample_draws):  # noqa: F811
    draw_id = tree.ids["draw_a"]
    resp = as_role("coordinator").get(f"/staff/sampling/draws/{draw_id}/letters.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    sizes, texts = pdf_facts(resp.data)
    selected = sorted(code for code, m in members(app, draw_id).items() if m.selected)
    assert sizes == [A4] * len(selected) == [A4] * 5
    decoded = [decode_image(page) for page in pdf_pages(resp.data, scale=1.5)]
    urls = [d[0] for d in decoded]
    assert all(len(d) == 1 for d in decoded) and len(set(urls)) == 5
    matches = [SHORT.match(u) for u in urls]
    assert sorted(m[1] for m in matches) == selected
    assert all(m[2] == independent_check(m[1]) for m in matches)
    for url, text in zip(urls, texts, strict=True):
        code = SHORT.match(url)[1]
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Độc lập - Tự do - Hạnh phúc" in text
        assert "THƯ MỜI" in text and "PHƯỜNG PHỐ HIẾN" in text and re.search(r"Hưng Yên, ngày \d\d tháng \d\d? năm 20\d\d", text)
        assert f"Số: {code}/TM-KSHL" in text and "Kính gửi: Ông/Bà Người " in text
        assert url.split("://", 1)[1] in text  # the short link printed in full, to type by hand
        assert "chỉ dùng cho một lần trả lời" in text and "TM. PHƯỜNG PHỐ HIẾN" in text
    [event] = [e for e in audit_rows(app, "export") if "letters" in (e.target or "")]
    assert event.actor_login == tree.users["coordinator"]

    citizen = app.test_client()
    first = urls[0]
    hop = citizen.get(path_of(first))
    assert hop.status_code == 303 and hop.headers["Location"].startswith("/d/")
    assert submit(citizen, hop.headers["Location"]).status_code == 303
    with app.app_context():
        [stored] = get_session().scalars(select(Response)).all()
        assert (stored.channel, stored.source) == ("dossier", "sample")
    assert members(app, draw_id)[SHORT.match(first)[1]].status == "answered_online"
    again = citizen.get(path_of(first), follow_redirects=True)
    assert again.status_code == 409 and "Hồ sơ này đã được đánh giá" in again.get_data(as_text=True)
    typed = citizen.get(path_of(urls[1]).lower())  # typed in lower case
    assert typed.status_code == 303 and typed.headers["Location"].startswith("/d/")
    check_a5_letters_and_one_persons_letter(app, tree, as_role)
    check_forged_or_malformed_short_links_are_a_clear_404(app, draw_id)
    check_a_reserve_not_taken_has_no_working_short_link(app, tree)


def check_a5_letters_and_one_persons_letter(app, tree, as_role):
    draw_id = tree.ids["draw_a"]
    code = f"M{draw_id}-000002"
    resp = as_role("coordinator").get(f"/staff/sampling/draws/{draw_id}/letters.pdf?size=a5&code={code.lower()}")
    assert resp.status_code == 200
    sizes, texts = pdf_facts(resp.data)
    assert sizes == [A5] and f"Số: {code}/TM-KSHL" in texts[0]
    [[url]] = [decode_image(p) for p in pdf_pages(resp.data, scale=2.5)]
    assert SHORT.match(url)[1] == code
    bad = as_role("coordinator").get(f"/staff/sampling/draws/{draw_id}/letters.pdf?size=A3")
    assert bad.status_code == 400 and "A4 hoặc A5" in bad.get_data(as_text=True)
    nobody = as_role("coordinator").get(f"/staff/sampling/draws/{draw_id}/letters.pdf?code=M0-000001")
    assert nobody.status_code == 404 and "M0-000001" in nobody.get_data(as_text=True)


def check_forged_or_malformed_short_links_are_a_clear_404(app, draw_id: int):
    client = app.test_client()
    code = f"M{draw_id}-000001"
    for path in (f"/m/{code}-222222", "/m/nonsense", f"/m/{code}", f"/m/{code}-{independent_check(code)}X",
                 f"/m/{code}-{independent_check(code, 'another key')}"):
        resp = client.get(path)
        assert resp.status_code == 404 and "kiểm tra lại từng ký tự in trên thư mời" in resp.get_data(as_text=True), path
    assert client.get(f"/m/{code}-{independent_check(code)}").status_code == 303
    assert client.get(f"/m/{code}-22222%0A").status_code == 404  # control characters never reach the view


def check_a_reserve_not_taken_has_no_working_short_link(app, tree):
    reserve = next(code for code, m in members(app, tree.ids["draw_a"]).items() if not m.selected)
    with app.test_request_context():
        path = f"/m/{shortlinks.short_code(reserve)}"
    assert path.endswith(independent_check(reserve))
    assert app.test_client().get(path).status_code == 404


def test_cli_letters_and_a_unit_without_signing_key(app, tree, runner, sample_draws, tmp_path):  # noqa: F811
    """Commune B has no API key: its letters ask for the paper form and the CLI names each person."""
    out = tmp_path / "b.pdf"
    result = runner.invoke(args=["sample", "letters", str(tree.ids["draw_b"]), "--out", str(out), "--size", "A5",
                                 "--base", "https://hailong.example.gov.vn"])
    assert result.exit_code == 0, result.output
    assert "5 thư mời" in result.output and "12001" in result.output  # each person named, with the fix
    assert os.stat(out).st_mode & 0o777 == 0o600
    sizes, texts = pdf_facts(out.read_bytes())
    assert sizes == [A5] * 5 and all("phiếu giấy gửi kèm" in t and "/m/" not in t for t in texts)
    assert all(decode_image(p) == [] for p in pdf_pages(out.read_bytes(), scale=2))
    out = tmp_path / "a.pdf"
    result = runner.invoke(args=["sample", "letters", str(tree.ids["draw_a"]), "--out", str(out),
                                 "--base", "https://hailong.example.gov.vn"])
    assert result.exit_code == 0, result.output
    urls = [decode_image(p)[0] for p in pdf_pages(out.read_bytes(), scale=1.5)]
    assert all(u.startswith("https://hailong.example.gov.vn/m/M") for u in urls) and len(set(urls)) == 5
    assert any(e.target == f"sample draw {tree.ids['draw_a']}" for e in audit_rows(app, "export"))
    with app.app_context():  # a refusal replaced by the stratum's first reserve: the reserve gets the letter
        from survey.sampling import tracking

        session = get_session()
        first = tracking.member_by_code(session, tree.ids["draw_a"], SHORT.match(urls[0].replace("https://hailong.example.gov.vn",
                                                                                               "http://localhost"))[1])
        tracking.set_status(session, first, "refused")
        reserve = tracking.replace(session, first).respondent_code
        session.commit()
    result = runner.invoke(args=["sample", "letters", str(tree.ids["draw_a"]), "--out", str(out),
                                 "--base", "https://hailong.example.gov.vn"])
    again = {SHORT.match(decode_image(p)[0].replace("https://hailong.example.gov.vn", "http://localhost"))[1]
             for p in pdf_pages(out.read_bytes(), scale=1.5)}
    assert first.respondent_code not in again and reserve in again and len(again) == 5
    wrong = runner.invoke(args=["sample", "letters", str(tree.ids["draw_a"]), "--out", str(tmp_path / "a.txt")])
    assert wrong.exit_code != 0 and ".pdf" in wrong.output
    missing = runner.invoke(args=["sample", "letters", "999999", "--out", str(out)])
    assert missing.exit_code != 0 and "999999" in missing.output


def test_web_download_is_capped_and_points_to_the_cli(app, tree, as_role, sample_draws, monkeypatch):  # noqa: F811
    from survey.sampling import letters

    monkeypatch.setattr(letters, "SYNC_LIMIT", 3)
    c = as_role("coordinator")
    draw_id = tree.ids["draw_a"]
    resp = c.get(f"/staff/sampling/draws/{draw_id}/letters.pdf")
    assert resp.status_code == 422 and f"sample letters {draw_id}" in resp.get_data(as_text=True)
    page = c.get(f"/staff/sampling/draws/{draw_id}").get_data(as_text=True)
    assert f"sample letters {draw_id} --out" in page and "letters.pdf?size=A4" not in page
    assert c.get(f"/staff/sampling/draws/{draw_id}/letters.pdf?code=M{draw_id}-000001").status_code == 200


def test_paper_forms_print_the_questionnaire_with_the_code_on_every_page(app, tree, as_role, runner, sample_draws,  # noqa: F811
                                                                         tmp_path):
    from questionnaires.loader import load_file

    draw_id = tree.ids["draw_a"]
    code = f"M{draw_id}-000003"
    resp = as_role("coordinator").get(f"/staff/sampling/draws/{draw_id}/paper-forms.pdf?code={code}")
    assert resp.status_code == 200
    sizes, texts = pdf_facts(resp.data)
    assert sizes == [A4] * len(texts)
    assert all(code in t for t in texts)
    assert [decode_image(p) for p in pdf_pages(resp.data, scale=2)] == [[code]] * len(texts)
    whole = " ".join(texts)
    quick = load_file("questionnaires/counter-quick.yaml")  # what a sampled person's link opens
    labels = [" ".join(i.label.vi.split()) for i in quick.items]
    positions = [whole.find(label[:40]) for label in labels]
    assert -1 not in positions and positions == sorted(positions)  # every item, in the official order
    assert "Rất hài lòng" in whole and "Rất không hài lòng" in whole and quick.header.heading.vi in whole
    result = runner.invoke(args=["sample", "paper-forms", str(draw_id), "--out", str(tmp_path / "p.pdf")])
    assert result.exit_code == 0, result.output
    _all_sizes, all_texts = pdf_facts((tmp_path / "p.pdf").read_bytes())
    assert len(all_texts) == 5 * len(texts)
    per_form = len(texts)
    firsts = [all_texts[i] for i in range(0, len(all_texts), per_form)]
    selected = sorted(c for c, m in members(app, draw_id).items() if m.selected)
    assert [re.search(r"M\d+-\d{6}", t)[0] for t in firsts] == selected
    assert len([e for e in audit_rows(app, "export") if "paper" in (e.target or "") or "draw" in (e.target or "")]) == 2


def test_a_value_too_wide_for_its_slot_is_shrunk_then_cut():
    """Widths checked with Pillow's own TrueType measurement of the same DejaVu font."""
    from PIL import ImageFont

    from survey.sampling.stamping import Slot, Stamper, _font_path

    slot = Slot("x", 10, 0, 150, 14, 10, "regular", "left")
    stamper = Stamper({})
    pil = ImageFont.truetype(str(_font_path("regular")), 1000)
    fits = stamper._text(slot, "Nguyễn Văn Ấn", 800)
    assert " 10.00 Tf" in fits and pil.getlength("Nguyễn Văn Ấn") * 10 / 1000 <= 150
    long_name = "Nguyễn Thị Hồng Nhung " * 5
    cut = stamper._text(slot, long_name, 800)
    size = float(re.search(r" ([\d.]+) Tf", cut)[1])
    assert size == 7.0  # shrunk to MIN_SCALE of 10 pt, then cut
    font = stamper.fonts["regular"]
    glyphs = re.search(r"<([0-9A-F]+)>", cut)[1]
    shown = "".join(font.used[int(glyphs[i:i + 4], 16)] for i in range(0, len(glyphs), 4))
    assert shown.endswith("…") and long_name.startswith(shown[:-1].rstrip())
    assert pil.getlength(shown) * size / 1000 <= 150 < pil.getlength(shown[:-1] + long_name[len(shown) - 1:][:3]) * size / 1000


def test_letters_report_progress_per_hundred(app, tree, sample_draws):  # noqa: F811
    import io
    from dataclasses import replace

    from survey.sampling import letters

    with app.test_request_context():
        session = get_session()
        made = letters.batch(session, session.get(SampleDraw, tree.ids["draw_a"]))
        made.letters = [replace(made.letters[i % 5], respondent_code=f"M9-{i:06d}") for i in range(230)]
        seen: list[int] = []
        pages = letters.write_pdf(made, "A5", io.BytesIO(), progress=seen.append)
    assert pages == 230 and seen == [100, 100, 30]
