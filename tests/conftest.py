"""Shared fixtures: an app on a fresh database with the bundled questionnaires published."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from questionnaires.loader import bundled_paths, load_file
from survey import create_app
from survey import catalog
from survey.db import Base, engine, get_session

ROOT = Path(__file__).resolve().parent.parent


def required(flag: str) -> bool:
    """CI sets SURVEY_REQUIRE_BROWSER / SURVEY_REQUIRE_POSTGRES: a missing dependency then fails."""
    return os.environ.get(flag, "") not in ("", "0")


def skip_or_fail(flag: str, reason: str) -> None:
    if required(flag):
        pytest.fail(f"{reason} (and {flag} is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def app(tmp_path: Path, database_url: str):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "QUESTIONNAIRE_DIR": str(ROOT / "questionnaires"),
    })
    app.instance_path = str(tmp_path)
    with app.app_context():
        Base.metadata.create_all(engine())
        session = get_session()
        for path in bundled_paths():
            catalog.publish(session, load_file(path))
        session.commit()
    yield app
    with app.app_context():
        engine().dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class FormPage:
    """A rendered form's hidden fields, so tests can post like a browser does."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.hidden = dict(re.findall(r'<input[^>]*?name="(csrf_token|submission_id|started|lang|v)"[^>]*?value="([^"]*)"', html))
        # attribute order differs between fields: also accept value-before-name
        for value, name in re.findall(r'<input[^>]*?value="([^"]*)"[^>]*?name="(csrf_token|submission_id|started|lang|v)"', html):
            self.hidden.setdefault(name, value)


@pytest.fixture
def get_form(client):
    def fetch(url: str) -> FormPage:
        resp = client.get(url)
        assert resp.status_code == 200, resp.status_code
        return FormPage(resp.get_data(as_text=True))
    return fetch
