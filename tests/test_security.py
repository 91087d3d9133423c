"""What a security review found (issue #9): HTTPS submits, no 5xx on hostile input, bounded
caches, headers and cookies, the secret key, file permissions, the Host header."""
from __future__ import annotations

import os
import stat
from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from survey import create_app
from survey.qr import codes
from survey.db import DatabaseUrlError
from survey.security import CONTENT_SECURITY_POLICY, SecretKeyError
from tests.conftest import FormPage
from tests.formdata import answers_for, post_body
from tests.qrkit import QUICK, aged_ticket, offline_link, place, responses  # noqa: F401

HTTPS = "https://khaosat.example.gov.vn"


# --- 1. behind HTTPS a citizen can submit -------------------------------------------------

def test_the_page_asks_browsers_for_a_same_origin_referrer(client):
    resp = client.get("/q/counter-quick")
    html = resp.get_data(as_text=True)
    assert '<meta name="referrer" content="same-origin">' in html and "no-referrer" not in html
    assert resp.headers["Referrer-Policy"] == "same-origin"


def test_submit_over_https_with_the_referer_a_browser_sends(app, client):
    """Flask-WTF's strict HTTPS check wants a same-origin Referer: the policy above sends it."""
    app.config["WTF_CSRF_ENABLED"] = True
    url = f"{HTTPS}/q/counter-quick"
    form = FormPage(client.get(url).get_data(as_text=True))
    form.hidden["submission_id"] = aged_ticket(client, "/q/counter-quick", seconds=60)
    body = MultiDict(post_body(form.hidden, answers_for(QUICK, choose=4)))
    resp = client.post(url, data=body, headers={"Referer": url})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    assert len(responses(app)) == 1
    # what the old `no-referrer` policy made every browser do: no Referer at all
    again = FormPage(client.get(url).get_data(as_text=True))
    resp = client.post(url, data=MultiDict(post_body(again.hidden, answers_for(QUICK, choose=4))))
    assert resp.status_code == 400 and len(responses(app)) == 1, "without a Referer the form comes back, nothing stored"


def test_https_responses_carry_hsts_and_secure_cookies(client):
    resp = client.get(f"{HTTPS}/q/counter-quick?lang=en")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    cookies = resp.headers.getlist("Set-Cookie")
    assert {c.split("=", 1)[0] for c in cookies} >= {"session", "lang", "sipas_device"}
    assert all("; Secure" in c for c in cookies), cookies
    plain = client.get("/q/counter-quick?lang=vi")
    assert "Strict-Transport-Security" not in plain.headers
    assert not any("; Secure" in c for c in plain.headers.getlist("Set-Cookie")), "http://localhost keeps working"


# --- 6. headers on every response ------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/q/counter-quick", "/q/khong-co", "/healthz", "/static/site.css"])
def test_security_headers_on_every_response(client, path):
    resp = client.get(path)
    resp.close()
    assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_for_the_policy_to_block(client):
    html = client.get("/q/counter-quick").get_data(as_text=True)
    assert "<script src=" in html and "<script>" not in html and " onclick=" not in html and 'style="' not in html


# --- 2. nobody can cause a 500 ------------------------------------------------------------------

ODD = ["²", "١٢", "１２", "0" * 5000, "9" * 5000, "-1", "1e9", "", " ", "%", "\u202e", "\u200b", "x" * 3000]
QUERIES = [{"v": v} for v in ODD] + [{"started": v} for v in ODD[:5]] + [
    {"_method": "X"}, {"_method": "DELETE"}, {"_external": "1"}, {"_anchor": "x"}, {"lang": "xx"}, {"lang": "\u0000"},
    {"f": "²"}, {"f": "9" * 500}, {"unknown": "1"}, {"v": "1", "lang": "en", "format": "svg"},
]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]


def hostile_posts(hidden: dict[str, str]) -> list[list[tuple[str, str]]]:
    base = post_body(hidden, answers_for(QUICK, choose=4))
    posts = [
        [*base, ("comment", "xin chào\x00")],
        [*base, ("comment", "\x01\x02")],
        [(k, "١" if k not in ("csrf_token", "submission_id", "v", "lang") else v) for k, v in base],
        [(k, "9" * 5000 if k not in ("csrf_token", "submission_id") else v) for k, v in base],
        [*base, ("started", "²")],
        [*base, ("started", "9" * 5000)],
        [(k, v) for k, v in base if k != "submission_id"] + [("submission_id", "x" * 53)],
        [(k, v) for k, v in base if k != "v"] + [("v", "²")],
        [(k, v) for k, v in base if k != "v"] + [("v", "１")],
        [*base, ("unknown", "1")],
        [],
    ]
    return posts


@pytest.fixture
def paths(app, place):
    completed = date.today()
    dossier = offline_link(place.key_id, place.secret, "HS-FUZZ-1", "dat-dai", "", completed)
    concrete = {"key": "counter-quick", "code": place.single_code, "token": dossier.removeprefix("/d/"),
                "filename": "site.css", "user_id": "1", "unit_code": "11953", "counter_id": "1", "size": "a6"}
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", concrete.get(arg, "1"))
            for conv in ("int:", "path:", "string:"):
                path = path.replace(f"<{conv}{arg}>", concrete.get(arg, "1"))
        out.append(path)
    oddities = ["/q/²", "/q/" + "x" * 5000, "/c/" + "١" * 12, "/d/" + "A" * 3000, "/q/counter-quick/cam-on%00", "/d/%00"]
    return out + oddities


def test_fuzz_corpus_never_gets_a_5xx(app, client, paths):
    """Every route, every method, odd digits, NUL, overlong numbers, unknown parameters."""
    seen = 0
    failures = []
    for path in paths:
        for method in METHODS:
            resp = client.open(path, method=method)
            resp.close()
            seen += 1
            if resp.status_code >= 500:
                failures.append((method, path[:80], resp.status_code))
        for query in QUERIES:
            resp = client.get(path, query_string=query)
            resp.close()
            seen += 1
            if resp.status_code >= 500:
                failures.append(("GET", path[:80], query if len(str(query)) < 80 else "long", resp.status_code))
        page = client.get(path)
        hidden = FormPage(page.get_data(as_text=True)).hidden if page.status_code == 200 else {}
        page.close()
        for body in hostile_posts(hidden) if "submission_id" in hidden else [[("x", "\x00")], []]:
            resp = client.post(path, data=MultiDict(body))
            resp.close()
            seen += 1
            if resp.status_code >= 500:
                failures.append(("POST", path[:80], [k for k, _ in body][:3], resp.status_code))
    assert seen > 500
    assert not failures, failures


def test_language_link_survives_url_for_reserved_names(client):
    resp = client.get("/q/counter-quick?_method=X&x=1")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'href="/q/counter-quick?_method=X&amp;x=1&amp;lang=en"' in html


def test_nul_in_a_comment_is_refused_not_stored(app, client):
    page = FormPage(client.get("/q/counter-quick").get_data(as_text=True))
    body = MultiDict([*post_body(page.hidden, answers_for(QUICK, choose=4)), ("comment", "tốt\x00")])
    resp = client.post("/q/counter-quick", data=body)
    assert resp.status_code == 400 and "ký tự điều khiển" in resp.get_data(as_text=True)
    assert responses(app) == []


# --- 3. bounded memory ---------------------------------------------------------------------------

def test_version_spellings_do_not_grow_the_cache(app, client):
    for spelling in ["1", "01", "001", "١", "１", "¹", "0" * 9 + "1", "1" * 9]:
        client.get("/q/counter-quick", query_string={"v": spelling})
    cached = app.extensions.get("published_versions", {})
    assert set(cached) <= {("counter-quick", 1)}, cached
    assert client.get("/q/counter-quick?v=١").status_code == 404


# --- 11. the secret key ----------------------------------------------------------------------------

@pytest.fixture
def environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SURVEY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("SURVEY_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    return monkeypatch


@pytest.mark.parametrize("value", ["12345", "true", "dev", "changeme", "x" * 31, "[1, 2]", "null"])
def test_short_or_guessable_secret_keys_refuse_to_start(environment, value):
    environment.setenv("SURVEY_SECRET_KEY", value)
    with pytest.raises(SecretKeyError, match="at least 32 characters"):
        create_app()


@pytest.mark.parametrize(("value", "said"), [("", "is set but empty"), ("not a url", "is not a database URL"),
                                             ("postgresql://sipas:hemmelig@db:port/sipas", "is not a database URL")])
def test_an_empty_or_broken_database_url_is_named_at_start(environment, value, said):
    environment.setenv("SURVEY_SECRET_KEY", "k" * 48)
    environment.setenv("SURVEY_DATABASE_URL", value)
    with pytest.raises(DatabaseUrlError, match=f"SURVEY_DATABASE_URL {said}") as caught:
        create_app()
    assert "hemmelig" not in str(caught.value)  # a password in the URL is not repeated


@pytest.mark.parametrize("value", ["12345", "changeme", "y" * 20])
def test_a_weak_link_key_refuses_to_start_too(environment, value):
    environment.setenv("SURVEY_SECRET_KEY", "k" * 48)
    environment.setenv("SURVEY_LINK_KEY", value)
    with pytest.raises(SecretKeyError, match="SURVEY_LINK_KEY must be"):
        create_app()


def test_a_long_numeric_secret_key_stays_a_string(environment):
    environment.setenv("SURVEY_SECRET_KEY", "1" * 40)
    assert create_app().config["SECRET_KEY"] == "1" * 40


# --- 5. files the service writes are its own -----------------------------------------------------

def test_instance_folder_and_generated_secret_are_private(environment, tmp_path):
    environment.delenv("SURVEY_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    old = os.umask(0)  # the most permissive umask a service could run under
    try:
        create_app()
    finally:
        os.umask(old)
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600


# --- 12. the Host header -----------------------------------------------------------------------------

def test_links_never_take_their_host_from_an_untrusted_request(app):
    app.testing = False
    with app.test_request_context("/", base_url="http://evil.example"):
        with pytest.raises(codes.NoBaseUrl):
            codes.base_url()
    app.config["TRUSTED_HOSTS"] = ["khaosat.example.gov.vn"]
    with app.test_request_context("/", base_url=HTTPS):
        assert codes.base_url() == HTTPS
    app.config["PUBLIC_BASE_URL"] = "https://hailong.example.gov.vn"
    with app.test_request_context("/", base_url="http://evil.example"):
        assert codes.base_url() == "https://hailong.example.gov.vn"


def test_untrusted_host_gets_400_when_hosts_are_restricted(app, client):
    app.config["TRUSTED_HOSTS"] = ["khaosat.example.gov.vn"]
    assert client.get("/q/counter-quick", base_url="http://evil.example").status_code == 400
    assert client.get("/q/counter-quick", base_url=HTTPS).status_code == 200



@pytest.mark.db("sqlite")
def test_gunicorn_trusts_x_forwarded_proto_from_the_local_proxy(database_url, tmp_path):
    """The production path: the proxy terminates TLS and says so; cookies and HSTS follow."""
    import http.client

    from bench import loadgen

    instance = tmp_path / "instance"
    instance.mkdir()
    loadgen.prepare_database(database_url, instance)
    with loadgen.Server(database_url, instance, workers=1, threads=2) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/q/counter-quick", headers={"X-Forwarded-Proto": "https", "Host": "khaosat.example.gov.vn"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert resp.getheader("Strict-Transport-Security", "").startswith("max-age=")
        cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
        assert cookies and all("; Secure" in c for c in cookies), cookies
        conn.close()
