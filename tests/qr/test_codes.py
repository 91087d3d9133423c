"""Counter QR codes: render, decode with a real reader, follow, answer, check the stored tags."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from survey.db import get_session
from survey.models import Counter
from survey.qr import codes
from survey.registry.units import PUBLIC_CODE_ALPHABET, PUBLIC_CODE_LENGTH
from tests.conftest import FormPage
from tests.formdata import answers_for, post_body
from tests.qrkit import BASE, QUICK, decode_png, decode_svg, path_of, place, responses, submit, tag_lines  # noqa: F401


@pytest.fixture(autouse=True)
def english_cli(monkeypatch):
    """These tests read the CLI's English (it speaks Vietnamese unless the locale says English);
    tests/commands/test_cli_language.py reads the Vietnamese."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


def test_counter_svg_and_png_decode_to_the_short_url(app, place):
    with app.app_context():
        url = codes.counter_url(place.single_code, BASE)
        svg, png = codes.qr_svg(url), codes.qr_png(url)
    assert url == f"{BASE}/c/{place.single_code}" and len(place.single_code) == PUBLIC_CODE_LENGTH
    assert set(place.single_code) <= set(PUBLIC_CODE_ALPHABET), "no look-alike characters to mistype"
    assert decode_svg(svg) == [url]
    assert decode_png(png) == [url]
    # Version 4 (33 modules) + quiet zone: a 70 mm code on an A6 card has 1.7 mm modules.
    assert svg.startswith("<svg") and 'viewBox="0 0 41 41"' in svg


def test_decoded_single_field_counter_url_opens_tagged_form_and_stores_tags(app, client, place):
    with app.app_context():
        url = decode_png(codes.qr_png(codes.counter_url(place.single_code, BASE)))[0]
    page = client.get(path_of(url))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert tag_lines(html) == ["Phường Phố Hiến", "Quầy 1 – Đất đai", "Lĩnh vực: Đất đai"]
    resp = submit(client, path_of(url), choose=5)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/q/counter-quick/cam-on")
    [stored] = responses(app)
    assert (stored.channel, stored.unit_id, stored.counter_id, stored.field_id, stored.procedure_id) == (
        "counter", place.commune_id, place.single_id, place.field_ids["dat-dai"], None)
    assert stored.device_hash and len(stored.device_hash) == 64
    assert stored.flags == []


def test_multi_field_counter_asks_for_the_field_first_without_javascript(app, client, place):
    url = f"/c/{place.multi_code}"
    picker = client.get(url)
    html = picker.get_data(as_text=True)
    assert picker.status_code == 200
    assert 'type="radio" name="f" value="tu-phap-ho-tich"' in html and 'value="chung-thuc"' in html
    assert 'method="get"' in html and "survey-form" not in html
    form = client.get(f"{url}?f=chung-thuc")
    assert form.status_code == 200 and "Lĩnh vực: Chứng thực" in tag_lines(form.get_data(as_text=True))
    assert submit(client, f"{url}?f=chung-thuc").status_code == 303
    [stored] = responses(app)
    assert (stored.counter_id, stored.field_id) == (place.multi_id, place.field_ids["chung-thuc"])


def test_multi_field_counter_refuses_a_field_it_does_not_serve(app, client, place):
    again = client.get(f"/c/{place.multi_code}?f=dat-dai")
    assert again.status_code == 200 and 'name="f"' in again.get_data(as_text=True)  # back to the picker
    form = FormPage(client.get(f"/c/{place.multi_code}?f=chung-thuc").get_data(as_text=True))
    assert "survey-form" in form.html
    posted = client.post(f"/c/{place.multi_code}?f=dat-dai", data=MultiDict(post_body(form.hidden, answers_for(QUICK))))
    assert posted.status_code == 400
    assert "Vui lòng chọn lĩnh vực" in posted.get_data(as_text=True)
    assert responses(app) == []


def test_edited_or_unknown_counter_code_is_404(app, client, place):
    code = place.single_code
    edited = code[:-1] + ("A" if code[-1] != "A" else "B")
    for bad in (edited, code.lower() if code.lower() != code else code.upper(), "x", "a" * 40, place.multi_code + "x"):
        resp = client.get(f"/c/{bad}")
        assert resp.status_code == 404, bad
        assert "Phường Phố Hiến" not in resp.get_data(as_text=True)


def test_inactive_counter_is_404(app, client, place):
    with app.app_context():
        session = get_session()
        session.get(Counter, place.single_id).active = False
        session.commit()
    assert client.get(f"/c/{place.single_code}").status_code == 404


def test_counter_form_in_english_shows_english_field_name(app, client, place):
    resp = client.get(f"/c/{place.single_code}?lang=en")
    assert resp.status_code == 200
    assert "Field: Land" in tag_lines(resp.get_data(as_text=True))


def test_qr_code_cli_writes_svg_and_png_that_decode(app, runner, place, tmp_path):
    for fmt in ("svg", "png"):
        out = tmp_path / f"code.{fmt}"
        result = runner.invoke(args=["qr", "code", "--unit", "11953", "--counter", "MC2", "--format", fmt,
                                     "--out", str(out), "--base", BASE])
        assert result.exit_code == 0, result.output
        decoded = decode_svg(out.read_text()) if fmt == "svg" else decode_png(out.read_bytes())
        assert decoded == [f"{BASE}/c/{place.multi_code}"]
    # a physical size, so it prints sensibly (#11 item 17): 40 mm by default, --size-mm to change it
    assert 'width="40mm" height="40mm"' in (tmp_path / "code.svg").read_text()
    big = tmp_path / "big.svg"
    assert runner.invoke(args=["qr", "code", "--unit", "11953", "--counter", "MC2", "--size-mm", "70", "--out", str(big),
                               "--base", BASE]).exit_code == 0
    assert 'width="70mm" height="70mm"' in big.read_text() and decode_svg(big.read_text()) == [f"{BASE}/c/{place.multi_code}"]
    missing = runner.invoke(args=["qr", "code", "--unit", "11953", "--counter", "NOPE", "--out", str(tmp_path / "x"),
                                  "--base", BASE])
    assert missing.exit_code != 0 and "no counter 'NOPE'" in missing.output


def test_urls_command_lists_counter_short_urls(app, runner, place):
    result = runner.invoke(args=["urls", "--base", "http://127.0.0.1:5000"])
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:5000/c/{place.single_code}" in result.output
    assert f"http://127.0.0.1:5000/c/{place.multi_code}" in result.output


def test_urls_command_prints_whole_questionnaire_titles(app, runner, place):
    """`make run` output (#11 item 17): no title cut at 60 characters."""
    from survey import catalog

    result = runner.invoke(args=["urls", "--base", "http://127.0.0.1:5000"])
    with app.app_context():
        titles = [catalog.definition(row).title.vi for row in catalog.list_latest(get_session())]
    assert any(len(t) > 60 for t in titles), "a long title exists to test with"
    assert all(t in result.output for t in titles)
