"""The citizen flow in real chromium over HTTPS, as production serves it (issue #9: behind TLS
every submission used to fail, because `no-referrer` left Flask-WTF's HTTPS check no Referer)."""
from __future__ import annotations

import shutil
import subprocess
import threading
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import PHONE
from tests.browser.test_citizen_form import stored_responses
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.db("sqlite")]


@pytest.fixture
def https_server(app, tmp_path):
    """The app behind TLS on loopback, with a certificate made for this test."""
    if shutil.which("openssl") is None:
        skip_or_fail("SURVEY_REQUIRE_BROWSER", "openssl is needed to make the test certificate (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    app.config["WTF_CSRF_ENABLED"] = True  # the production check, strict Referer included
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def answer_every_visible_question(page) -> None:
    """Pick the last option of every visible radio group (repeated: answers may reveal more)."""
    for _ in range(4):
        names = page.eval_on_selector_all(
            "fieldset:not([hidden]) input[type=radio]:not(:disabled)", "els => [...new Set(els.map(e => e.name))]")
        todo = [n for n in names if not page.locator(f"input[name='{n}']:checked").count()]
        if not todo:
            return
        for name in todo:
            page.locator(f"input[name='{name}']:not(:disabled)").last.check()


def test_citizen_submits_over_https(app, browser, https_server):
    context = browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True, ignore_https_errors=True)
    page = context.new_page()
    seen = []
    page.on("request", lambda r: seen.append(r))
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto(f"{https_server}/q/sipas-local")
        answer_every_visible_question(page)
        page.locator("textarea").first.fill("Cán bộ tận tình")
        page.locator("button.send").click()
        page.wait_for_url("**/cam-on")
        assert "Cảm ơn" in page.content()
        post = next(r for r in seen if r.method == "POST")
        assert post.headers.get("referer", "").startswith(https_server), "same-origin: our own POST carries the Referer"
        cookies = context.cookies()
        assert cookies and all(c["secure"] for c in cookies), cookies
        assert not blocked, blocked
        assert {urlparse(r.url).hostname for r in seen} == {"127.0.0.1"}
    finally:
        context.close()
    assert len(stored_responses(app)) == 1
