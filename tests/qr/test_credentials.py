"""Unit HMAC secrets at rest: wrapped under the link key, so a copy of the database (or a backup)
alone cannot mint links; legacy clear rows still verify and are wrapped by `units rewrap-secrets`;
a changed key is recovered with --old-key-file; migration 0007 and its way back."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from survey import create_app
from survey.db import engine, get_session
from survey.models import Unit, UnitCredential
from survey.qr import credentials
from tests.qrkit import offline_link, place  # noqa: F401


@pytest.fixture(autouse=True)
def english_cli(monkeypatch):
    """These tests read the CLI's English (it speaks Vietnamese unless the locale says English);
    tests/commands/test_cli_language.py reads the Vietnamese."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")

TODAY = datetime.now(UTC).date()
API = "/api/v1/dossier-links"


def _link(place, dossier: str = "HS-KEY-1") -> str:
    return offline_link(place.key_id, place.secret, dossier, "", "ht-khai-sinh", TODAY)


def _mint(client, place, dossier: str = "HS-API-1"):
    return client.post(API, json={"dossier_code": dossier, "procedure": "ht-khai-sinh", "completed_on": TODAY.isoformat()},
                       headers={"Authorization": f"Bearer {place.api_key}"})


def _stored(app, key_id: str) -> str:
    with app.app_context():
        return get_session().scalar(select(UnitCredential.secret_wrapped).filter_by(key_id=key_id))


def _store(app, key_id: str, value: str) -> None:
    with app.app_context():
        session = get_session()
        session.scalar(select(UnitCredential).filter_by(key_id=key_id)).secret_wrapped = value
        session.commit()


def test_the_database_alone_does_not_hold_the_secret(app, client, place):
    stored = _stored(app, place.key_id)
    assert stored.startswith("v1.") and place.secret not in stored
    assert client.get(_link(place)).status_code == 200
    # the same rows on a server with another key (a stolen copy or backup): nothing verifies or signs
    app.config["SECRET_KEY"] = "another-installation-entirely"
    assert client.get(_link(place, "HS-KEY-2")).status_code == 404
    resp = _mint(client, place)
    assert resp.status_code == 503 and resp.get_json()["error"] == "unavailable"
    with app.app_context():
        with pytest.raises(credentials.SecretUnavailable):
            credentials.hmac_secret(get_session().scalar(select(UnitCredential)))


def test_a_separate_link_key_survives_a_secret_key_change(app, client):
    app.config["LINK_KEY"] = "link-key-kept-apart-from-the-session-key"
    with app.app_context():
        session = get_session()
        unit = Unit(code="X1", name="Xã Một", kind="commune")
        session.add(unit)
        session.flush()
        credential, _api_key = credentials.issue(session, unit)
        secret, key_id = credential.hmac_secret, credential.key_id
        session.commit()
    app.config["SECRET_KEY"] = "rotated-session-key"
    with app.app_context():
        assert credentials.hmac_secret(get_session().scalar(select(UnitCredential).filter_by(key_id=key_id))) == secret


def test_a_wrapped_secret_copied_to_another_credential_does_not_unwrap(app, place):
    with app.app_context():
        session = get_session()
        unit = session.scalar(select(Unit).filter_by(code="11953"))
        other, _ = credentials.issue(session, unit)
        other.secret_wrapped = _stored(app, place.key_id)  # bound to its own key id
        session.flush()
        with pytest.raises(credentials.SecretUnavailable):
            credentials.hmac_secret(other)
        session.rollback()


def test_legacy_clear_secrets_still_verify_and_are_wrapped_by_the_command(app, client, runner, place):
    _store(app, place.key_id, place.secret)  # as a row from before migration 0007 holds it
    assert client.get(_link(place, "HS-OLD-1")).status_code == 200
    result = runner.invoke(args=["units", "rewrap-secrets"])
    assert result.exit_code == 0, result.output
    assert "1 secret(s) wrapped under the current link key, 0 already so, 0 unreadable." in result.output
    stored = _stored(app, place.key_id)
    assert stored.startswith("v1.") and place.secret not in stored
    assert client.get(_link(place, "HS-OLD-2")).status_code == 200
    again = runner.invoke(args=["units", "rewrap-secrets"])
    assert "0 secret(s) wrapped under the current link key, 1 already so" in again.output


def test_after_a_key_change_the_old_key_file_rewraps_and_links_work_again(app, client, runner, place, tmp_path):
    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "the-new-secret-key-after-rotation"
    assert client.get(_link(place)).status_code == 404
    refused = runner.invoke(args=["units", "rewrap-secrets"])
    assert refused.exit_code == 1 and f"key id {place.key_id}: cannot be unwrapped" in refused.output
    key_file = tmp_path / "old_key"
    key_file.write_text(old_key + "\n")
    result = runner.invoke(args=["units", "rewrap-secrets", "--old-key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert "1 secret(s) wrapped under the current link key" in result.output
    assert client.get(_link(place)).status_code == 200
    assert _mint(client, place).status_code == 201


def test_batch_minting_names_the_unit_whose_secret_cannot_be_unwrapped(app, runner, place, tmp_path):
    app.config["SECRET_KEY"] = "not-the-key-it-was-wrapped-with"
    src = tmp_path / "d.csv"
    src.write_text(f"dossier_code,unit_code,completed_on\nHS-B1,11953,{TODAY.isoformat()}\n", encoding="utf-8")
    result = runner.invoke(args=["qr", "dossiers", str(src), "--out", str(tmp_path / "o.csv"), "--base", "https://x.gov.vn"])
    assert result.exit_code == 1
    assert "line 2: the HMAC secret of unit '11953' cannot be unwrapped" in result.output


def test_migration_0007_downgrade_needs_the_secrets_in_clear_first(database_url):
    app = create_app({"TESTING": True, "SECRET_KEY": "migration-test-key", "DATABASE_URL": database_url})
    cli = app.test_cli_runner()
    try:
        assert cli.invoke(args=["db", "upgrade", "0006_staff"]).exit_code == 0
        with app.app_context(), engine().begin() as conn:  # a unit credential as 0006 stored it: in clear
            conn.execute(text("INSERT INTO units (id, code, name, kind, path, active) VALUES (1, 'U1', 'Xã', 'commune', '/1/', true)"))
            conn.execute(text("INSERT INTO unit_credentials (unit_id, key_id, api_key_hash, hmac_secret, created_at) "
                              "VALUES (1, 'kid00001', 'h', 'clear-secret-from-before', :now)"), {"now": datetime.now(UTC)})
        assert cli.invoke(args=["db", "upgrade"]).exit_code == 0
        with app.app_context():
            cred = get_session().scalar(select(UnitCredential))
            assert cred.secret_wrapped == "clear-secret-from-before"  # kept, still usable
            assert credentials.hmac_secret(cred) == "clear-secret-from-before"
        assert cli.invoke(args=["units", "rewrap-secrets"]).exit_code == 0
        refused = cli.invoke(args=["db", "downgrade", "0006_staff"])
        assert refused.exit_code != 0 and "units rewrap-secrets --clear" in refused.output
        assert cli.invoke(args=["units", "rewrap-secrets", "--clear"]).exit_code == 0
        assert cli.invoke(args=["db", "downgrade", "0006_staff"]).exit_code == 0
        with app.app_context(), engine().connect() as conn:
            assert conn.execute(text("SELECT hmac_secret FROM unit_credentials")).scalar() == "clear-secret-from-before"
    finally:
        with app.app_context():
            engine().dispose()
