"""Fields and procedures are national reference data: present after `db upgrade` (#11 item 12)."""
from __future__ import annotations

from sqlalchemy import func, select

from survey.db import engine, get_session
from survey.models import Field, Procedure
from survey.registry.units import FieldLookup
from tests.test_migrations import bare_app, db  # noqa: F401  (fixture)


def test_db_upgrade_seeds_fields_and_procedures_once(bare_app, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    first = db(bare_app, "upgrade")
    assert first.exit_code == 0, first.output
    assert "Added 16 field(s)" in first.output
    with bare_app.app_context():
        session = get_session()
        assert session.scalar(select(func.count()).select_from(Field)) == 16
        assert session.scalar(select(func.count()).select_from(Procedure)) >= 16
        land = FieldLookup(session)
        assert land.find("Đất đai").code == land.find(" Đất  đai").code == land.find("dat-dai").code == "dat-dai"
        assert land.find("Đất Đai") is None and land.find("Dat dai") is None  # case and diacritics are exact
        session.close()
    again = db(bare_app, "upgrade")
    assert again.exit_code == 0 and "Added" not in again.output
    with bare_app.app_context():
        engine().dispose()
