"""A published report in commune A and one in commune B, stored directly (no rendering), their ids
in tree.ids (report_a, report_b): what the route walk downloads and refuses across subtrees."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from survey.db import get_session
from survey.models import PublishedReport, Unit


def store(session, unit_code: str, body: bytes = b"%PDF-1.7 test") -> int:
    unit = session.scalar(select(Unit).where(Unit.code == unit_code))
    report = PublishedReport(unit_id=unit.id, report_key=f"test-{unit_code}", version=1, title=f"Báo cáo {unit_code}",
                             filters="{}", method="{}", figures="{}", data_cutoff=datetime(2025, 4, 1, tzinfo=UTC),
                             pdf=body, xlsx=b"PK test", pdf_sha256=hashlib.sha256(body).hexdigest(),
                             xlsx_sha256=hashlib.sha256(b"PK test").hexdigest())
    session.add(report)
    session.flush()
    return report.id


@pytest.fixture
def published_reports(app, tree):
    with app.app_context():
        session = get_session()
        tree.ids["report_a"] = store(session, tree.commune_a)
        tree.ids["report_b"] = store(session, tree.commune_b)
        session.commit()
    return tree
