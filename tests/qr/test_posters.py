"""Posters: print the PDF, rasterise each page, read the QR with zbar, follow it, answer."""
from __future__ import annotations

import pytest

from survey.db import get_session
from survey.models import Counter
from survey.qr import posters
from tests.qrkit import BASE, decode_image, path_of, pdf_pages, place, responses, submit, tag_lines  # noqa: F401


@pytest.fixture(autouse=True)
def english_cli(monkeypatch):
    """These tests read the CLI's English (it speaks Vietnamese unless the locale says English);
    tests/commands/test_cli_language.py reads the Vietnamese."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")

# PDF points (1/72 in): A6 105 × 148 mm, A4 210 × 297 mm.
PAGE_POINTS = {"a6": (297.6, 419.5), "a4": (595.3, 841.9)}


def pdf_text(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def page_sizes(data: bytes) -> list[tuple[float, float]]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [tuple(round(v, 1) for v in pdf[i].get_size()) for i in range(len(pdf))]
    finally:
        pdf.close()


@pytest.mark.parametrize("size", ["a6", "a4"])
def test_poster_pdf_pages_decode_to_their_counters_and_the_form_stores_the_tags(app, client, runner, place, tmp_path, size):
    with app.app_context():  # a code ending in "-" must survive layout and text extraction
        session = get_session()
        session.get(Counter, place.single_id).public_code = place.single_code = "Qr_c0de-9-"
        session.commit()
    out = tmp_path / f"posters-{size}.pdf"
    result = runner.invoke(args=["qr", "posters", "--unit", "33", "--size", size, "--out", str(out), "--base", BASE])
    assert result.exit_code == 0, result.output
    assert "Wrote 2 pages" in result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert page_sizes(data) == [PAGE_POINTS[size]] * 2
    decoded = [decode_image(page) for page in pdf_pages(data, scale=1.5 if size == "a6" else 1.0)]
    assert decoded == [[f"{BASE}/c/{place.single_code}"], [f"{BASE}/c/{place.multi_code}"]]
    # PDFium reports a hyphen ending a line as U+FFFE; the codes may end in "-".
    texts = [" ".join(t.replace("\ufffe", "- ").split()) for t in pdf_text(data)]
    assert "PHƯỜNG PHỐ HIẾN Quầy 1 – Đất đai Quét mã QR để đánh giá sự hài lòng" in texts[0]
    assert f"hoặc nhập địa chỉ: hailong.example.gov.vn/c/{place.single_code}" in texts[0]
    assert "Lĩnh vực: Đất đai" in texts[0]
    assert "Lĩnh vực: Chứng thực; Tư pháp – Hộ tịch" in texts[1]
    url = decoded[0][0]
    assert tag_lines(client.get(path_of(url)).get_data(as_text=True))[-1] == "Lĩnh vực: Đất đai"
    assert submit(client, path_of(url)).status_code == 303
    [stored] = responses(app)
    assert (stored.channel, stored.unit_id, stored.counter_id, stored.field_id) == (
        "counter", place.commune_id, place.single_id, place.field_ids["dat-dai"])


def test_posters_progress_is_reported_per_chunk(app, place, tmp_path):
    from survey.models import Unit

    with app.app_context():
        session = get_session()
        items = [posters.poster_for(c, BASE) for c in posters.counters_under(session, session.get(Unit, place.province_id))]
        seen: list[int] = []
        pages = posters.write_pdf(items * 3, "a6", tmp_path / "p.pdf", progress=seen.append, chunk=4)
    assert pages == 6 and seen == [4, 2]


def test_posters_need_a_base_url_and_counters(app, runner, place, tmp_path):
    out = tmp_path / "p.pdf"
    no_base = runner.invoke(args=["qr", "posters", "--unit", "33", "--out", str(out)])
    assert no_base.exit_code != 0 and "SURVEY_PUBLIC_BASE_URL" in no_base.output
    unknown = runner.invoke(args=["qr", "posters", "--unit", "NOPE", "--out", str(out), "--base", BASE])
    assert unknown.exit_code != 0 and "no unit with code 'NOPE'" in unknown.output
    assert not out.exists()
