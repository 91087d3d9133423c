"""`frame purge` and `frame retention` (docs/domain.md §8, README § Retention): personal data of
frame dossiers is blanked SURVEY_FRAME_RETENTION_DAYS after the later of completion and the end
of the latest design period covering it; codes, units, fields and dates stay, so a draw still
verifies; paper keyings of purged members go; the purge is audited with its counts."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from survey.db import get_session
from survey.models import (
    AuditEvent,
    Field,
    FrameDossier,
    FrameImport,
    SampleMember,
    Unit,
)
from survey.sampling import design, draws, retention
from tests.staff.conftest import as_role, tree  # noqa: F401  (fixtures)

OLD, NEW = date(2025, 3, 10), date(2026, 10, 15)


def unit(session, code: str) -> Unit:
    return session.scalar(select(Unit).filter_by(code=code))


def add_frame(session, unit_code: str, day: date, n: int, tag: str) -> int:
    u, fld = unit(session, unit_code), session.scalar(select(Field).filter_by(code="dat-dai"))
    batch = FrameImport(unit_id=u.id, source="test", filename=f"{tag}.csv", file_sha256="0" * 64)
    session.add(batch)
    session.flush()
    session.add_all(FrameDossier(dossier_code=f"{tag}-{i}", unit_id=u.id, field_id=fld.id, completed_on=day,
                                 procedure="Cấp GCN", name=f"Nguyễn Văn {i}", address=f"Thôn {i}", phone="0912000000",
                                 channel="paper", import_id=batch.id) for i in range(n))
    session.flush()
    return batch.id


@pytest.fixture
def frames(app, tree):  # noqa: F811
    """Commune A: 6 dossiers done 10/03/2025 (import old) and 4 done 15/10/2026 (import new);
    commune B: 5 done 10/03/2025 inside a design of the province whose period ends 31/12/2025."""
    with app.app_context():
        session = get_session()
        ids = {"old": add_frame(session, tree.commune_a, OLD, 6, "A-OLD"),
               "new": add_frame(session, tree.commune_a, NEW, 4, "A-NEW"),
               "b": add_frame(session, tree.commune_b, OLD, 5, "B-OLD")}
        saved = design.save(session, design.Params(unit(session, tree.commune_b), date(2025, 1, 1), date(2025, 12, 31),
                                                    total=3), "test")
        ids["draw"] = draws.draw(session, saved, "purge-seed").id
        session.commit()
    return ids


def personal(app, import_id: int) -> list[tuple]:
    with app.app_context():
        return get_session().execute(select(FrameDossier.name, FrameDossier.address, FrameDossier.phone)
                                     .where(FrameDossier.import_id == import_id)).all()


def test_retention_counts_from_completion_or_the_end_of_a_covering_design(app, frames):
    with app.app_context():
        session = get_session()
        # 1 December 2026, 365 days: cutoff 1 December 2025. A-OLD (10/03/2025) is past; B-OLD is
        # covered by a design ending 31/12/2025, so kept until 31/12/2026; A-NEW until 15/10/2027.
        dry = retention.purge(session, 365, on=date(2026, 12, 1), dry_run=True)
        assert {k: v[2] for k, v in dry.per_import.items()} == {frames["old"]: 6} and dry.dossiers == 6
        assert all(all(v is not None for v in row) for row in personal(app, frames["old"])), "a dry run changes nothing"
        kept = {r.id: (r.kept_until, r.holding) for r in retention.by_import(session, 365)}
        assert kept == {frames["old"]: (OLD + timedelta(days=365), 6), frames["new"]: (NEW + timedelta(days=365), 4),
                        frames["b"]: (date(2025, 12, 31) + timedelta(days=365), 5)}
        # the last kept day is still kept; the day after it is purged
        assert retention.purge(session, 365, on=date(2026, 12, 31), dry_run=True).dossiers == 6
        assert retention.purge(session, 365, on=date(2027, 1, 1), dry_run=True).per_import[frames["b"]][2] == 5
        assert retention.purge(session, 365, on=OLD + timedelta(days=365), dry_run=True).dossiers == 0


def test_purge_blanks_personal_columns_keeps_the_rest_and_the_draw_verifies(app, frames):
    with app.app_context():
        session = get_session()
        before = session.execute(select(FrameDossier.dossier_code, FrameDossier.unit_id, FrameDossier.field_id,
                                        FrameDossier.completed_on, FrameDossier.procedure, FrameDossier.channel)
                                 .order_by(FrameDossier.dossier_code)).all()
        done = retention.purge(session, 0, on=date(2027, 1, 1), root=unit(session, "33"))
        session.commit()
        assert done.dossiers == 15 and set(done.per_import) == {frames["old"], frames["new"], frames["b"]}
        after = session.execute(select(FrameDossier.dossier_code, FrameDossier.unit_id, FrameDossier.field_id,
                                       FrameDossier.completed_on, FrameDossier.procedure, FrameDossier.channel)
                                .order_by(FrameDossier.dossier_code)).all()
        assert after == before
        assert session.scalar(select(func.count()).select_from(FrameDossier).where(retention.PERSONAL)) == 0
        from survey.models import SampleDraw
        check = draws.verify(session, session.get(SampleDraw, frames["draw"]))
        assert check.matches, check.message
        again = retention.purge(session, 0, on=date(2027, 1, 1))
        assert again.dossiers == 0, "a purged dossier is not counted twice"


def test_purge_deletes_the_paper_keyings_of_purged_members(app, frames):
    keyings = pytest.importorskip("survey.models.entry").PaperKeying
    with app.app_context():
        session = get_session()
        member = session.scalar(select(SampleMember).where(SampleMember.draw_id == frames["draw"]))
        from survey.models import QuestionnaireVersion
        version = session.scalar(select(QuestionnaireVersion.id))
        if version is None:
            pytest.skip("no published questionnaire in this database")
        session.add(keyings(member_id=member.id, round="first", version_id=version, keyer_login="a", answers="{}"))
        session.commit()
        done = retention.purge(session, 365, on=date(2027, 1, 1))
        session.commit()
        assert done.keyings == 1 and session.scalar(select(func.count()).select_from(keyings)) == 0


def test_cli_dry_run_then_purge_audited_in_vietnamese_and_english(app, runner, frames, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    app.config["FRAME_RETENTION_DAYS"] = 0  # everything completed before today and not in a live design period
    dry = runner.invoke(args=["frame", "purge", "--dry-run", "--unit", "33"])
    assert dry.exit_code == 0, dry.output
    assert f"  lần nhập {frames['old']} (11953, A-OLD.csv): 6 hồ sơ" in dry.output
    assert "Chạy thử, không xoá gì: sẽ xoá họ tên, địa chỉ, số điện thoại của 15 hồ sơ trong 3 lần nhập" in dry.output
    assert all(row[0] for row in personal(app, frames["old"]))
    with app.app_context():
        assert get_session().scalar(select(func.count()).where(AuditEvent.action == "frame_purged")) == 0
    done = runner.invoke(args=["frame", "purge"])
    assert done.exit_code == 0, done.output
    assert "Đã xoá họ tên, địa chỉ, số điện thoại của 15 hồ sơ trong 3 lần nhập" in done.output
    assert "sample verify vẫn kiểm chứng được" in done.output
    assert personal(app, frames["new"]) == [(None, None, None)] * 4
    with app.app_context():
        event = get_session().scalar(select(AuditEvent).where(AuditEvent.action == "frame_purged"))
        detail = json.loads(event.detail)
        assert (detail["dossiers"], detail["retention_days"], detail["imports"][str(frames["b"])]) == (15, 0, 5)
        assert event.actor_login.startswith("cli:")
    verified = runner.invoke(args=["sample", "verify", str(frames["draw"])])
    assert verified.exit_code == 0, verified.output
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    nothing = runner.invoke(args=["frame", "purge"])
    assert nothing.exit_code == 0 and "No dossier is past retention (0 days;" in nothing.output
    listing = runner.invoke(args=["frame", "retention", "--unit", "11953"])
    assert listing.output.splitlines()[0].startswith("import\tunit\tfile")
    assert f"{frames['old']}\t11953\tA-OLD.csv\t" in listing.output and "\t10/03/2025\t0\n" in listing.output
    assert "Nguyễn" not in listing.output and "2 import(s)" in listing.output


def test_cli_refuses_a_bad_retention_setting(app, runner, frames, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    app.config["FRAME_RETENTION_DAYS"] = "một năm"
    bad = runner.invoke(args=["frame", "purge"])
    assert bad.exit_code == 1 and "SURVEY_FRAME_RETENTION_DAYS phải là số ngày nguyên từ 0 trở lên" in bad.output
    assert all(row[0] for row in personal(app, frames["old"])), "nothing purged"
    app.config["FRAME_RETENTION_DAYS"] = -1
    assert runner.invoke(args=["frame", "retention"]).exit_code == 1
    app.config["FRAME_RETENTION_DAYS"] = 365
    unknown = runner.invoke(args=["frame", "purge", "--unit", "99999"])
    assert unknown.exit_code == 1 and "không có đơn vị mã '99999'" in unknown.output


def test_the_frames_page_shows_each_imports_retention_date(app, as_role, frames):  # noqa: F811
    page = as_role("coordinator").get("/staff/sampling/11953/frames").get_data(as_text=True)
    kept = (OLD + timedelta(days=365)).strftime("%d/%m/%Y")
    assert "Giữ dữ liệu cá nhân đến hết" in page and f"<td>{kept}</td>" in page
    assert f"<td>{(NEW + timedelta(days=365)).strftime('%d/%m/%Y')}</td>" in page
    assert "Họ tên, địa chỉ và số điện thoại được giữ 365 ngày" in page
    assert "Nguyễn Văn" not in page, "counts and dates only"
