"""A phone opens the URL decoded from a receipt's QR code, answers, and cannot answer twice."""
from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from tests.formdata import answers_for
from tests.qrkit import QUICK, decode_png, place, responses  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


def test_receipt_qr_answers_once_on_a_phone(live_server, page, place):
    live_server.app.config["PUBLIC_BASE_URL"] = live_server.url
    client = live_server.app.test_client()
    minted = client.post("/api/v1/dossier-links", headers={"Authorization": f"Bearer {place.api_key}"}, json={
        "dossier_code": "H33.25-BR-0001", "procedure": "ht-khai-sinh", "completed_on": datetime.now(UTC).date().isoformat(),
    })
    assert minted.status_code == 201, minted.get_data(as_text=True)
    [url] = decode_png(base64.b64decode(minted.get_json()["qr_png_base64"]))
    assert url.startswith(live_server.url + "/d/")

    first = page.goto(url)
    assert first.status == 200
    assert page.locator("ul.tags li").all_inner_texts() == [
        "Phường Phố Hiến", "Lĩnh vực: Tư pháp – Hộ tịch", "Thủ tục: Đăng ký khai sinh", "Hồ sơ số: H33.25-BR-0001"]
    for key, value in answers_for(QUICK).items():
        if isinstance(value, list):
            for v in value:
                page.check(f'input[name="{key}"][value="{v}"]')
        elif isinstance(value, int):
            page.check(f'input[name="{key}"][value="{value}"]')
        else:
            page.fill(f'[name="{key}"]', value)
    with page.expect_navigation():
        page.click("button.send")
    assert "/cam-on" in page.url
    assert "Cảm ơn Ông/Bà đã tham gia khảo sát!" in page.content()

    second = page.goto(url)
    assert second.status == 409
    assert page.locator("h1").inner_text() == "Hồ sơ này đã được đánh giá"
    [stored] = responses(live_server.app)
    assert (stored.channel, stored.unit_id, stored.procedure_id) == (
        "dossier", place.commune_id, place.procedure_ids["ht-khai-sinh"])
    assert all(r.startswith(live_server.url) or r.startswith("data:") for r in page.requests)
