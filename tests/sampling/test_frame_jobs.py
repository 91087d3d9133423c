"""Frame imports as background jobs (survey/sampling/frame_jobs.py on survey/staff/jobs.py): the
page shows rows read while the import runs (its transaction still open), then the validation
report; a file broken half-way, a server error or a restart ends as a failed job that kept
nothing; the upload is kept 0600 beside the job and deleted after it."""
from __future__ import annotations

import io
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey.db import engine, get_session
from survey.models import FrameDossier, FrameImport, Job, Unit
from survey.sampling import frame_jobs as frame_import_kind
from survey.sampling import frames
from survey.staff import jobs
from tests.sampling.conftest import HEADER, frame_rows
from tests.staff.conftest import audit_rows, csrf_token

BASE = "/staff/sampling"


@pytest.fixture
def frame_jobs_manual(app):
    app.config["STAFF_JOBS"] = "manual"
    return app


@pytest.fixture
def frame_jobs(app, tree):
    """For the route walk: a finished frame import job in each commune."""
    app.config["STAFF_JOBS"] = "manual"
    with app.app_context():
        session = get_session()
        for name, code in (("frame_job_a", tree.commune_a), ("frame_job_b", tree.commune_b)):
            unit = session.scalar(select(Unit).where(Unit.code == code))
            batch = FrameImport(unit_id=unit.id, source="test", filename="t.csv", file_sha256="0" * 64)
            session.add(batch)
            session.flush()
            job = Job(kind=frame_import_kind.KIND, state="done", unit_id=unit.id, finished_at=datetime.now(UTC),
                      options=json.dumps({"filename": "t.csv", "source": "test"}), result=json.dumps({"import_id": batch.id}))
            session.add(job)
            session.flush()
            tree.ids[name] = job.id
        session.commit()
    return tree


def start_import(client, body: str, name: str = "ds.csv") -> int:
    """Upload, confirm the guessed mapping, and return the job the import button started."""
    page = client.get(f"{BASE}/11953/frames").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "source": "Một cửa điện tử", "file": (io.BytesIO(body.encode()), name)}
    html = client.post(f"{BASE}/11953/frames/upload", data=data, content_type="multipart/form-data").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    selected = dict(re.findall(r'<select id="map_(\w+)".*?<option value="([^"]*)" selected>', html, re.DOTALL))
    resp = client.post(f"{BASE}/11953/frames/import", data={
        "csrf_token": csrf_token(html), "token": token, "source": "Một cửa điện tử",
        **{f"map_{t}": h for t, h in selected.items()}})
    assert resp.status_code == 303, resp.status_code
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def page_of(client, job_id: int) -> str:
    resp = client.get(f"{BASE}/frame-jobs/{job_id}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def job_of(app, job_id: int) -> Job:
    with app.app_context():
        job = get_session().get(Job, job_id)
        get_session().expunge(job)
        return job


def stored(app) -> tuple[int, int]:
    """(frame dossiers, frame imports) as another connection sees them."""
    with app.app_context(), engine().connect() as conn:
        return conn.scalar(select(func.count()).select_from(FrameDossier)), conn.scalar(select(func.count()).select_from(FrameImport))


def file_body(good: int, bad: list[str] = ()) -> str:
    return "\n".join(["TỔNG HỢP HỒ SƠ,,,,,,,", HEADER, *frame_rows(good), *bad]) + "\n"


def test_the_page_shows_rows_read_while_the_import_runs_then_its_report(frame_jobs_manual, tree, as_role, monkeypatch):
    app, client = frame_jobs_manual, as_role("coordinator")
    body = file_body(12, ["HS-BAD,11953,dat-dai,2026-13-01,,,,", "HS-OUT,12001,dat-dai,15/10/2026,,,,"])
    job_id = start_import(client, body)
    page = page_of(client, job_id)
    assert "data-poll" in page and "job-poll.js" in page and "Đang chờ" in page and "Tải lại trang" in page
    [kept] = list(jobs.work_folder(app).glob(f"job-{job_id}-input.*"))
    assert kept.stat().st_mode & 0o777 == 0o600 and kept.read_text(encoding="utf-8") == body
    assert not list((jobs.work_folder(app).parent / "frame-uploads").iterdir())  # moved, not copied
    assert json.loads(audit_rows(app, "frame_import_started")[0].detail)["job"] == job_id

    # another worker's page, asked after each progress report while the import's transaction is open
    monkeypatch.setattr(frames, "BATCH", 5)
    seen: list[tuple[str, tuple[int, int], float]] = []
    beat = jobs.beat_aside

    def watched(app_, jid, **values):
        ok = beat(app_, jid, **values)
        if values.get("done"):
            box = {}
            asked = time.monotonic()
            reader = threading.Thread(target=lambda: box.update(page=page_of(client, jid), rows=stored(app)))
            reader.start()
            reader.join(60)
            seen.append((re.search(r"Đã đọc [^<]*", box["page"]).group(0), box["rows"], time.monotonic() - asked))
        return ok

    monkeypatch.setattr(jobs, "beat_aside", watched)
    assert jobs.run(app, job_id) == "done"
    lines = body.count("\n")  # the file's lines, title and header included: the bar's length
    read = [int(re.fullmatch(rf"Đã đọc (\d+) trong khoảng {lines} dòng", text).group(1)) for text, _r, _s in seen]
    assert len(read) >= 3 and read == sorted(set(read)) and read[-1] == 14  # rising, to all 14 rows (2 of them bad)
    assert all(rows == (0, 0) for _text, rows, _s in seen)  # nothing visible before the one commit
    assert max(s for _t, _r, s in seen) < 10  # the page never waited for the writer slot

    page = page_of(client, job_id)
    assert "data-poll" not in page and "Đã xong" in page
    assert "12 hồ sơ mới, 0 đã có (không đổi), 2 dòng bị từ chối." in page
    assert "2026-13-01" in page and '<td class="num-col">15</td>' in page and '<td class="num-col">16</td>' in page
    assert stored(app) == (12, 1) and not list(jobs.work_folder(app).glob(f"job-{job_id}*"))
    [done] = [e for e in audit_rows(app, "frame_imported") if json.loads(e.detail).get("job") == job_id]
    assert done.actor_login == tree.users["coordinator"] and json.loads(done.detail)["created"] == 12
    assert f"frame-jobs/{job_id}" in client.get(f"{BASE}/11953/frames").get_data(as_text=True)
    assert client.get(f"/staff/poster-jobs/{job_id}").status_code == 404  # each kind on its own page
    assert jobs.run(app, job_id) == "skipped"


def test_a_file_found_too_long_half_way_fails_and_keeps_nothing(frame_jobs_manual, as_role, monkeypatch):
    app, client = frame_jobs_manual, as_role("coordinator")
    job_id = start_import(client, file_body(60))
    monkeypatch.setattr(frames, "BATCH", 5)
    monkeypatch.setattr(frames, "MAX_ROWS", 35)  # the reader finds the cap past rows already stored
    assert jobs.run(app, job_id) == "failed"
    job = job_of(app, job_id)
    assert "hơn 35 dòng" in job.error and "Không hồ sơ nào của tệp được lưu" in job.error
    assert stored(app) == (0, 0) and not audit_rows(app, "frame_imported")
    page = page_of(client, job_id)
    assert "data-poll" not in page and "Không thành công" in page and "hơn 35 dòng" in page and "Tải tệp lên lại" in page
    assert not list(jobs.work_folder(app).glob(f"job-{job_id}*"))


def test_a_server_error_at_the_end_fails_with_a_plain_reason_and_keeps_nothing(frame_jobs_manual, as_role, monkeypatch):
    app, client = frame_jobs_manual, as_role("coordinator")
    job_id = start_import(client, file_body(8))

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(frame_import_kind.audit, "record", broken)
    assert jobs.run(app, job_id) == "failed"
    assert job_of(app, job_id).error == frame_import_kind.FAILED and stored(app) == (0, 0)
    page = page_of(client, job_id)
    assert "lỗi máy chủ" in page and "disk full" not in page


def test_a_restarted_server_s_import_is_reaped_but_a_live_sqlite_import_is_not(frame_jobs_manual, as_role):
    app, client = frame_jobs_manual, as_role("coordinator")
    dead, live = start_import(client, file_body(3)), start_import(client, file_body(3))
    with app.app_context():
        session = get_session()
        for job_id in (dead, live):  # claimed, then the database heard nothing for 6 minutes
            session.get(Job, job_id).state = "running"
            session.get(Job, job_id).heartbeat_at = datetime.now(UTC) - timedelta(minutes=6)
        session.commit()
    jobs.pulse(app, live, done=7)  # an SQLite import's thread, alive: its pulse file is fresh
    page = page_of(client, live)
    assert "data-poll" in page and "Đã đọc 7 dòng" in page and '<progress id="job-progress"></progress>' in page
    page = page_of(client, dead)
    assert "Không thành công" in page and "gián đoạn" in page and "data-poll" not in page
    assert job_of(app, dead).state == "failed" and job_of(app, live).state == "running"
    assert not list(jobs.work_folder(app).glob(f"job-{dead}-*")) and list(jobs.work_folder(app).glob(f"job-{live}-*"))
    assert jobs.run(app, dead) == "skipped"  # a late worker does not bring it back


def test_an_import_runs_in_a_background_thread_by_default(frame_jobs_manual, as_role):
    app, client = frame_jobs_manual, as_role("coordinator")
    app.config["STAFF_JOBS"] = "thread"
    job_id = start_import(client, file_body(5))
    [thread] = [t for t in threading.enumerate() if t.name == f"job-{job_id}"]
    thread.join(timeout=120)
    assert job_of(app, job_id).state == "done" and stored(app) == (5, 1)
    assert "5 hồ sơ mới" in page_of(client, job_id)


@pytest.mark.parametrize("account", ["reader", "other_admin", "unit_admin"])
def test_only_coordinators_of_the_subtree_see_the_import(frame_jobs_manual, as_role, account):
    job_id = start_import(as_role("coordinator"), file_body(2))
    assert as_role(account).get(f"{BASE}/frame-jobs/{job_id}").status_code == 403
