"""Publishing versions: immutable, explicit, and responses keep theirs."""
from __future__ import annotations

import copy

import pytest

from questionnaires.loader import load_dict
from survey import catalog
from survey.db import get_session
from tests.test_loader import BASE


def q(**changes):
    data = copy.deepcopy(BASE)
    data.update(changes)
    return load_dict(data)


def test_publish_new_then_unchanged(app):
    with app.app_context():
        session = get_session()
        row, status = catalog.publish(session, q())
        assert status == "new" and row.version == 1
        again, status = catalog.publish(session, q())
        assert status == "unchanged" and again.id == row.id
        session.commit()
        assert catalog.definition(catalog.latest(session, "mini")) == q()


def test_changed_content_needs_a_higher_version(app):
    with app.app_context():
        session = get_session()
        catalog.publish(session, q())
        with pytest.raises(catalog.PublishError, match="phiên bản 1 đã được công bố với nội dung khác; ghi 'version: 2'"):
            catalog.publish(session, q(title={"vi": "Đổi tên", "en": "Renamed"}))
        row, status = catalog.publish(session, q(version=2, title={"vi": "Đổi tên", "en": "Renamed"}))
        assert status == "new"
        assert catalog.latest(session, "mini").id == row.id
        assert catalog.get_version(session, "mini", 1).checksum != row.checksum


def test_older_version_number_is_refused(app):
    with app.app_context():
        session = get_session()
        catalog.publish(session, q(version=3))
        with pytest.raises(catalog.PublishError, match="cũ hơn phiên bản đã công bố 3; dùng 'version: 4'"):
            catalog.publish(session, q(version=2))


def test_list_latest_shows_one_row_per_key(app):
    with app.app_context():
        session = get_session()
        catalog.publish(session, q())
        catalog.publish(session, q(version=2, title={"vi": "Mới", "en": "New"}))
        rows = [r for r in catalog.list_latest(session) if r.key == "mini"]
        assert [r.version for r in rows] == [2]
