"""Real-browser fixtures: the app served on loopback, Debian's chromium driven by Playwright.

Without chromium (or Playwright) the tests skip, unless SURVEY_REQUIRE_BROWSER=1 (CI),
where that is a failure. Never `playwright install`: it downloads, and this network forbids it.
Every browser module runs on SQLite only (`pytest.mark.db("sqlite")`): a browser test checks what a
person clicks and sees; the queries behind each page run on both backends in the page and route
tests (tests/staff, tests/sampling, tests/reporting, …), and a second chromium walk per backend
cost the suite minutes without testing another line of SQL.
"""
from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import skip_or_fail

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
PHONE = {"width": 360, "height": 740}


@dataclass
class LiveServer:
    app: Flask
    url: str


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        skip_or_fail("SURVEY_REQUIRE_BROWSER", "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("SURVEY_REQUIRE_BROWSER", "playwright is not installed (make test installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A phone-sized page that records every request, so tests can prove none leaves loopback."""
    js = getattr(request, "param", True)
    context = browser.new_context(viewport=PHONE, java_script_enabled=js, locale="vi-VN", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    yield page
    context.close()
