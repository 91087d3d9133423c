"""A sampled person answering through their dossier link: the response is source='sample' with
the draw and stratum (no member id, no respondent code), and the member is marked answered online."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from survey.db import get_session
from survey.models import Field, FrameDossier, FrameImport, SampleMember, Unit
from survey.sampling import design, draws
from tests.qrkit import offline_link, place, responses, submit  # noqa: F401

TODAY = datetime.now(UTC).date()


def test_online_answer_of_a_sampled_dossier_carries_draw_and_stratum(app, client, place):  # noqa: F811
    with app.app_context():
        session = get_session()
        u = session.get(Unit, place.commune_id)
        fld = session.scalar(select(Field).filter_by(code="tu-phap-ho-tich"))
        batch = FrameImport(unit_id=u.id, source="t", filename="t.csv", file_sha256="0" * 64)
        session.add(batch)
        session.flush()
        session.add_all(FrameDossier(dossier_code=f"H33.25-00012{i}", unit_id=u.id, field_id=fld.id,
                                     completed_on=TODAY, import_id=batch.id) for i in range(3))
        session.flush()
        saved = design.save(session, design.Params(u, date(2026, 1, 1), date(2030, 12, 31), total=3), "t")
        draw_id = draws.draw(session, saved, "online").id
        session.commit()
    url = offline_link(place.key_id, place.secret, "H33.25-000121", "", "ht-khai-sinh", TODAY)
    assert submit(client, url).status_code == 303
    [stored] = responses(app)
    assert (stored.source, stored.sample_draw_id, stored.stratum) == ("sample", draw_id, "11953|tu-phap-ho-tich")
    with app.app_context():
        member = get_session().scalar(select(SampleMember).join(FrameDossier).where(
            FrameDossier.dossier_code == "H33.25-000121"))
        assert member.status == "answered_online"
    other = offline_link(place.key_id, place.secret, "H33.25-999999", "", "ht-khai-sinh", TODAY)
    assert submit(client, other).status_code == 303  # not sampled: counter feedback, no sample tags
    last = responses(app)[-1]
    assert (last.source, last.sample_draw_id, last.stratum) == ("feedback", None, None)
