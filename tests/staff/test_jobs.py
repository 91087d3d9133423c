"""Poster jobs: a subtree's posters made in the background with progress, seen only within scope,
a stale job turned into a failed one that can run again, old files deleted."""
from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from survey.db import engine, get_session
from survey.models import Counter, Field, Job, Unit
from survey.registry import units
from survey.staff import jobs
from tests.qrkit import BASE, decode_image, pdf_pages
from tests.staff.conftest import audit_rows, token_for


@pytest.fixture
def poster_jobs(app, tree):
    """For the route walk: a finished job (with a file) in each commune; jobs are left queued."""
    app.config["STAFF_POSTER_JOBS"] = "manual"
    with app.app_context():
        session = get_session()
        for name, code in (("job_a", tree.commune_a), ("job_b", tree.commune_b)):
            unit = session.scalar(select(Unit).where(Unit.code == code))
            job = Job(state="done", done=1, total=1, unit_id=unit.id, options=json.dumps({"size": "a6"}),
                            result_path=f"fake-{code}.pdf", finished_at=datetime.now(UTC))
            session.add(job)
            session.flush()
            (jobs.folder(app) / job.result_path).write_bytes(b"%PDF-1.7 fake")
            tree.ids[name] = job.id
        session.commit()
    return tree


@pytest.fixture
def manual(app, tree):
    app.config.update(STAFF_POSTER_JOBS="manual", STAFF_POSTER_JOB_CHUNK=1, PUBLIC_BASE_URL=BASE)
    with app.app_context():
        session = get_session()
        a = session.scalar(select(Unit).where(Unit.code == tree.commune_a))
        land = session.scalar(select(Field).where(Field.code == "dat-dai"))
        for code in ("MC2", "MC3"):
            units.add_counter(session, a, code, f"Quầy {code}", "counter-quick", [land])
        session.commit()
    return app


def start(client, code: str = "11953", size: str = "a6"):
    return client.post(f"/staff/units/{code}/poster-jobs", data={"csrf_token": token_for(client), "size": size})


def job_id_of(resp) -> int:
    assert resp.status_code == 302, resp.status_code
    return int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def state_of(app, job_id: int) -> Job:
    with app.app_context():
        job = get_session().get(Job, job_id)
        get_session().expunge(job)
        return job


def test_job_runs_to_completion_with_rising_progress_and_its_pdf_decodes(manual, tree, as_role, monkeypatch):
    app, client = manual, as_role("unit_admin")
    job_id = job_id_of(start(client))
    page = client.get(f"/staff/poster-jobs/{job_id}").get_data(as_text=True)
    assert "data-poll" in page and "job-poll.js" in page and "Đang chờ" in page and "0/3" in page

    seen: list[int] = []  # `done` as another connection (another worker's page) reads it after each step
    beat = jobs._beat

    def watched(session, jid, **values):
        ok = beat(session, jid, **values)
        with engine().connect() as conn:
            seen.append(conn.scalar(select(Job.done).where(Job.id == jid)))
        return ok

    monkeypatch.setattr(jobs, "_beat", watched)
    assert jobs.run(app, job_id) == "done"
    assert seen == [1, 2, 3]
    assert jobs.run(app, job_id) == "skipped"  # a job is claimed once

    page = client.get(f"/staff/poster-jobs/{job_id}").get_data(as_text=True)
    assert "data-poll" not in page and "Đã xong" in page and "3/3" in page
    resp = client.get(f"/staff/poster-jobs/{job_id}/posters.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    decoded = [decode_image(p) for p in pdf_pages(resp.data, scale=1.5)]
    resp.close()
    with app.app_context():
        a = get_session().scalar(select(Unit).where(Unit.code == tree.commune_a))
        codes = get_session().scalars(select(Counter.public_code).where(Counter.unit_id == a.id).order_by(Counter.code)).all()
    assert decoded == [[f"{BASE}/c/{code}"] for code in codes]
    [started] = audit_rows(app, "poster_job_started")
    assert started.actor_login == tree.users["unit_admin"] and json.loads(started.detail)["counters"] == 3
    export = [e for e in audit_rows(app, "export") if json.loads(e.detail).get("job") == job_id]
    assert len(export) == 1 and export[0].actor_login == tree.users["unit_admin"]


def test_a_job_runs_in_a_background_thread_by_default(manual, as_role):
    manual.config["STAFF_POSTER_JOBS"] = "thread"
    job_id = job_id_of(start(as_role("unit_admin"), size="a4"))
    [thread] = [t for t in threading.enumerate() if t.name == f"job-{job_id}"]
    thread.join(timeout=120)
    job = state_of(manual, job_id)
    assert (job.state, job.done, job.total, job.error) == ("done", 3, 3, None)
    assert (jobs.folder(manual) / job.result_path).read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("account", ["other_admin", "reader", "coordinator"])
def test_only_those_who_manage_the_unit_see_its_job(manual, as_role, account):
    job_id = job_id_of(start(as_role("unit_admin")))
    other = as_role(account)
    assert other.get(f"/staff/poster-jobs/{job_id}").status_code == 403
    assert other.get(f"/staff/poster-jobs/{job_id}/posters.pdf").status_code == 403
    assert other.post(f"/staff/poster-jobs/{job_id}/again", data={"csrf_token": token_for(other)}).status_code == 403
    assert start(other).status_code == 403
    assert as_role("province_admin").get(f"/staff/poster-jobs/{job_id}").status_code == 200


def test_a_stale_running_job_is_shown_failed_and_runs_again(manual, tree, as_role):
    client = as_role("unit_admin")
    job_id = job_id_of(start(client))
    with manual.app_context():
        job = get_session().get(Job, job_id)
        job.state, job.heartbeat_at = "running", datetime.now(UTC) - timedelta(minutes=6)
        get_session().commit()
    page = client.get(f"/staff/poster-jobs/{job_id}").get_data(as_text=True)
    assert "Không thành công" in page and "gián đoạn" in page and "Chạy lại" in page
    assert "data-poll" not in page
    assert state_of(manual, job_id).state == "failed"
    assert jobs.run(manual, job_id) == "skipped"  # a late worker does not resurrect it
    again = job_id_of(client.post(f"/staff/poster-jobs/{job_id}/again", data={"csrf_token": token_for(client)}))
    assert again != job_id and state_of(manual, again).state == "queued"
    assert json.loads(audit_rows(manual, "poster_job_started")[-1].detail)["again_of"] == job_id


def test_a_live_job_is_not_reaped_and_a_queued_one_never_started_is(manual, as_role):
    client = as_role("unit_admin")
    live, forgotten = job_id_of(start(client)), job_id_of(start(client))
    with manual.app_context():
        session = get_session()
        session.get(Job, live).state = "running"
        session.get(Job, live).heartbeat_at = datetime.now(UTC) - timedelta(minutes=1)
        session.get(Job, forgotten).created_at = datetime.now(UTC) - timedelta(minutes=6)
        session.commit()
        assert jobs.reap(session) == 1
        session.commit()
    assert state_of(manual, live).state == "running" and state_of(manual, forgotten).state == "failed"


def test_files_older_than_the_keep_days_are_deleted(manual, as_role):
    client = as_role("unit_admin")
    old, new = job_id_of(start(client)), job_id_of(start(client))
    assert jobs.run(manual, old) == "done" and jobs.run(manual, new) == "done"
    with manual.app_context():
        session = get_session()
        session.get(Job, old).finished_at = datetime.now(UTC) - timedelta(days=8)
        old_file = jobs.folder(manual) / session.get(Job, old).result_path
        assert jobs.purge(session, manual) == 1
        session.commit()
    assert not old_file.exists() and state_of(manual, old).result_path is None
    assert state_of(manual, new).result_path is not None
    assert client.get(f"/staff/poster-jobs/{old}/posters.pdf").status_code == 404
    assert "Tạo lại" in client.get(f"/staff/poster-jobs/{old}").get_data(as_text=True)


def test_bad_size_and_a_subtree_without_counters_are_refused(manual, tree, as_role):
    client = as_role("province_admin")
    assert start(client, size="a3").status_code == 400
    with manual.app_context():
        session = get_session()
        province = session.scalar(select(Unit).where(Unit.code == tree.province))
        units.add_unit(session, "EMPTY1", "Xã Trống", "commune", province)
        session.commit()
    resp = start(client, code="EMPTY1")
    assert resp.status_code == 422 and "chưa có quầy" in resp.get_data(as_text=True)
    with manual.app_context():
        assert not get_session().scalars(select(Job)).all()


def test_the_heartbeat_moves_while_the_pdf_is_written_without_progress(manual, as_role, monkeypatch):
    """The final write of a big PDF is one long call: the ticker keeps the job from looking dead."""
    manual.config["STAFF_POSTER_JOB_HEARTBEAT"] = 0.05
    job_id = job_id_of(start(as_role("unit_admin")))
    beats: list[datetime] = []

    def slow_write(items, size, target, progress=None, chunk=50):  # no progress calls at all
        with engine().connect() as conn:
            first = conn.scalar(select(Job.heartbeat_at).where(Job.id == job_id))
        waited = threading.Event()
        for _ in range(250):  # until the ticker has beaten twice (at most 5 s)
            with engine().connect() as conn:
                beat = conn.scalar(select(Job.heartbeat_at).where(Job.id == job_id))
            if beat != first and beat not in beats:
                beats.append(beat)
            if len(beats) >= 2:
                break
            waited.wait(0.02)
        Path(target).write_bytes(b"%PDF-1.7 test")
        return len(items)

    monkeypatch.setattr(jobs.posters, "write_pdf", slow_write)
    assert jobs.run(manual, job_id) == "done"
    assert len(beats) == 2 and beats[0] < beats[1]
