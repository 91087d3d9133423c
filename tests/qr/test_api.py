"""The one-stop software's API: key auth, minting (idempotent), QR images, JSON errors."""
from __future__ import annotations

import base64
import http.client
import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import Unit, UnitCredential
from survey.qr import credentials
from tests.qrkit import decode_png, decode_svg, offline_link, path_of, place, responses, submit, tag_lines  # noqa: F401

URL = "/api/v1/dossier-links"
TODAY = datetime.now(UTC).date()


def mint(client, key: str | None, body, **kwargs):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, headers=headers, content_type="application/json", **kwargs)


def good(**overrides):
    return {"dossier_code": "000.00.33.H33-251120-0001", "procedure": "ht-khai-sinh",
            "completed_on": TODAY.isoformat(), **overrides}


def test_mint_returns_url_and_qr_that_decode_to_a_working_link(app, client, place):
    resp = mint(client, place.api_key, good())
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["url"].startswith("http://localhost/d/") and body["created"] is True and body["used"] is False
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC) + timedelta(days=29)
    assert decode_png(base64.b64decode(body["qr_png_base64"])) == [body["url"]]
    assert decode_svg(body["qr_svg"]) == [body["url"]]
    assert path_of(body["url"]) == offline_link(place.key_id, place.secret, "000.00.33.H33-251120-0001",
                                                "", "ht-khai-sinh", TODAY)
    page = client.get(path_of(body["url"]))
    assert page.status_code == 200
    assert "Thủ tục: Đăng ký khai sinh" in tag_lines(page.get_data(as_text=True))
    assert submit(client, path_of(body["url"])).status_code == 303
    [stored] = responses(app)
    assert (stored.channel, stored.unit_id, stored.field_id, stored.procedure_id) == (
        "dossier", place.commune_id, place.field_ids["tu-phap-ho-tich"], place.procedure_ids["ht-khai-sinh"])
    again = mint(client, place.api_key, good())
    assert again.status_code == 200 and again.get_json()["url"] == body["url"] and again.get_json()["used"] is True


def test_public_base_url_is_used_when_configured(app, client, place):
    app.config["PUBLIC_BASE_URL"] = "https://hailong.hungyen.gov.vn/"
    resp = mint(client, place.api_key, good())
    assert resp.get_json()["url"].startswith("https://hailong.hungyen.gov.vn/d/")
    assert len(resp.get_json()["url"]) < 160  # fits QR version 8 at level M on a receipt


def test_minting_twice_is_idempotent(app, client, place):
    first = mint(client, place.api_key, good())
    second = mint(client, place.api_key, good(field="tu-phap-ho-tich"))  # the field the procedure implies
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["url"] == second.get_json()["url"]
    assert second.get_json()["created"] is False


def test_minting_again_with_other_details_is_409(client, place):
    assert mint(client, place.api_key, good()).status_code == 201
    resp = mint(client, place.api_key, good(procedure="ht-ket-hon"))
    assert resp.status_code == 409 and resp.get_json()["error"] == "conflict"


@pytest.mark.parametrize("fmt,mimetype", [("svg", "image/svg+xml"), ("png", "image/png")])
def test_format_returns_the_qr_image_alone(client, place, fmt, mimetype):
    resp = mint(client, place.api_key, good(), query_string={"format": fmt})
    assert resp.status_code == 201 and resp.mimetype == mimetype
    decoded = decode_svg(resp.get_data(as_text=True)) if fmt == "svg" else decode_png(resp.get_data())
    assert decoded[0].startswith("http://localhost/d/")


def test_no_key_is_401_with_bearer_challenge(client, place):
    resp = mint(client, None, good())
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer ", "Basic abc", "Bearer nokey", "Bearer x.y", "Token {key}", "Bearer {key}x"])
def test_wrong_key_is_401(client, place, header):
    resp = client.post(URL, json=good(), headers={"Authorization": header.format(key=place.api_key)})
    assert resp.status_code == 401 and resp.is_json


def test_key_of_another_unit_signs_for_that_unit_only(app, client, place):
    with app.app_context():
        session = get_session()
        other = session.scalar(select(Unit).filter_by(code="33"))
        _cred, other_key = credentials.issue(session, other)
        session.commit()
    a = mint(client, place.api_key, good()).get_json()["url"]
    b = mint(client, other_key, good()).get_json()["url"]
    assert a != b
    assert submit(client, path_of(b)).status_code == 303
    assert responses(app)[0].unit_id == place.province_id


def test_revoked_key_is_401_and_only_a_hash_is_stored(app, client, place):
    with app.app_context():
        session = get_session()
        cred = session.scalar(select(UnitCredential).filter_by(key_id=place.key_id))
        assert place.api_key not in (cred.api_key_hash, cred.secret_wrapped) and len(cred.api_key_hash) == 64
        assert place.secret not in cred.secret_wrapped  # the HMAC secret is stored wrapped, never in clear
        cred.revoked_at = datetime.now(UTC)
        session.commit()
    assert mint(client, place.api_key, good()).status_code == 401


@pytest.mark.parametrize("body,field", [
    ({"procedure": "ht-khai-sinh", "completed_on": TODAY.isoformat()}, "dossier_code"),
    (good(dossier_code=""), "dossier_code"),
    (good(dossier_code="a|b"), "dossier_code"),
    (good(dossier_code="x" * 65), "dossier_code"),
    (good(dossier_code=123), "dossier_code"),
    (good(completed_on="20/13/2026"), "completed_on"),
    (good(completed_on=None), "completed_on"),
    (good(completed_on=(TODAY + timedelta(days=5)).isoformat()), "completed_on"),
    (good(completed_on=(TODAY - timedelta(days=45)).isoformat()), "completed_on"),
    (good(field="khong-co"), "field"),
    (good(field="dat-dai"), "procedure"),
    (good(procedure="unknown-proc"), "procedure"),
    (good(procedure=["x"]), "procedure"),
    ([1, 2], "body"),
    ("not json", "body"),
])
def test_bad_body_is_422_naming_the_field(client, place, body, field):
    resp = mint(client, place.api_key, body)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["field"] == field and resp.get_json()["message"]


def test_bad_format_is_422(client, place):
    resp = mint(client, place.api_key, good(), query_string={"format": "gif"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "format"


def test_oversized_body_is_413(client, place):
    resp = mint(client, place.api_key, good(note="x" * 10_000))
    assert resp.status_code == 413 and resp.is_json


def test_wrong_method_and_path_are_json(client, place):
    assert client.get(URL).status_code == 405 and client.get(URL).is_json
    assert client.post("/api/v1/nope", json={}).status_code == 404


def test_api_needs_no_csrf_token_but_forms_still_do(app, client, place):
    app.config["WTF_CSRF_ENABLED"] = True
    assert mint(client, place.api_key, good()).status_code == 201
    assert client.post(f"/c/{place.single_code}", data={"x": "1"}).status_code == 400


def test_chunked_body_over_the_limit_is_413_on_the_bytes_read(client, place):
    """No Content-Length (chunked transfer encoding): the limit holds on what is actually read.
    A server that de-chunks (gunicorn, werkzeug) marks the stream terminated, as here."""
    chunked = {"environ_overrides": {"wsgi.input_terminated": True},
               "headers": {"Authorization": f"Bearer {place.api_key}", "Transfer-Encoding": "chunked"}}
    big = json.dumps(good(note="x" * 60_000)).encode()
    resp = client.post(URL, input_stream=io.BytesIO(big), content_type="application/json", **chunked)
    assert resp.status_code == 413 and resp.get_json()["error"] == "too_large"
    small = json.dumps(good()).encode()
    ok = client.post(URL, input_stream=io.BytesIO(small), content_type="application/json", **chunked)
    assert ok.status_code == 201, ok.get_json()  # a chunked body within the limit is read as usual


def test_chunked_body_is_refused_through_a_real_server(app, place):
    """The same over a socket, as gunicorn or the dev server frame a chunked request."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        def post(body: bytes) -> tuple[int, dict]:
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            conn.putrequest("POST", URL)
            conn.putheader("Authorization", f"Bearer {place.api_key}")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for start in range(0, len(body), 1000):
                chunk = body[start:start + 1000]
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
            payload = json.loads(resp.read())
            conn.close()
            return resp.status, payload

        status, payload = post(json.dumps(good(note="x" * 60_000)).encode())
        assert status == 413 and payload["error"] == "too_large"
        status, payload = post(json.dumps(good(dossier_code="CHUNKED-1")).encode())
        assert status == 201 and payload["dossier_code"] == "CHUNKED-1"
    finally:
        server.shutdown()
        thread.join(5)
