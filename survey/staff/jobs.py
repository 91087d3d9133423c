"""Poster jobs: a subtree's poster PDF laid out in the background, its progress in the database.

Why not in the request: 1,000 A6 posters take about half a minute of CPU (bench/bench_posters.py),
too long to hold a worker. Why not a broker: the state a page needs (done/total, the file) fits a
table, and any app server can read it. The request creates the job and starts a thread in its own
worker; the thread claims the job with a conditional UPDATE (so a job runs once), records progress
after every chunk while a ticker thread beats a heartbeat every HEARTBEAT_SECONDS (the final PDF
write of 1,000 pages is one call of several minutes on a loaded machine, without progress), writes
the PDF under instance/poster-jobs/ and marks the job done. A job whose
heartbeat stopped (its server restarted) is turned into a failed one by `reap`, so nobody waits on
it forever; result files older than SURVEY_POSTER_JOB_DAYS are deleted by `purge`.

`SURVEY_STAFF_POSTER_JOBS`: "thread" (default) runs jobs in a background thread; "manual" leaves
them queued for `run()` (tests, or a separate process).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..db import get_session
from ..i18n import N_
from ..models import Job, StaffUser, Unit
from ..qr import codes, posters

log = logging.getLogger(__name__)

STATES = {
    "queued": N_("Đang chờ"),
    "running": N_("Đang tạo"),
    "done": N_("Đã xong"),
    "failed": N_("Không thành công"),
}
# Stored (untranslated) and shown through _() on the page.
INTERRUPTED = N_("Công việc bị gián đoạn (máy chủ khởi động lại hoặc dừng giữa chừng).")
NO_COUNTERS = N_("Đơn vị này và các đơn vị cấp dưới không còn quầy nào đang hoạt động.")
FAILED = N_("Không tạo được tệp PDF do lỗi máy chủ; lỗi đã được ghi lại.")
HEARTBEAT_SECONDS = 20  # a live job's ticker thread beats this often, also during the final PDF write
STALE_AFTER = timedelta(minutes=2)  # a job silent this long lost its process
KEEP_DAYS = 7
CHUNK = 20  # posters laid out between two progress updates (≈ 0.7 s)
FOLDER = "poster-jobs"


class JobError(ValueError):
    """A job that cannot be created; the message is already translated."""


def now() -> datetime:
    return datetime.now(UTC)


def folder(app: Flask) -> Path:
    path = Path(app.instance_path) / FOLDER
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def size_of(job: Job) -> str:
    return json.loads(job.options or "{}").get("size", "a6")


def create(session: Session, user: StaffUser, unit: Unit, size: str, base: str) -> Job:
    """A queued job for the active counters of `unit`'s subtree (none: JobError). `base` is the
    public address taken in the request (codes.base_url), as the synchronous download uses."""
    if size not in posters.SIZES:
        raise JobError(N_("Khổ giấy không hợp lệ: chọn A4 hoặc A6."))
    total = len(posters.counters_under(session, unit))
    if not total:
        raise JobError(N_("Đơn vị này và các đơn vị cấp dưới chưa có quầy nào đang hoạt động."))
    job = Job(state="queued", done=0, total=total, user_id=user.id, unit_id=unit.id,
                    options=json.dumps({"size": size, "base": base}), created_at=now())
    session.add(job)
    session.flush()
    return job


def start(app: Flask, job_id: int) -> None:
    """Run the (committed) job in a background thread of this worker, unless jobs are run elsewhere."""
    if app.config.get("STAFF_POSTER_JOBS", "thread") != "thread":
        return
    threading.Thread(target=run, args=(app, job_id), name=f"poster-job-{job_id}", daemon=True).start()


def _beat(session: Session, job_id: int, **values: object) -> bool:
    """Update a running job; False when it is no longer running (reaped meanwhile)."""
    result = session.execute(update(Job).where(Job.id == job_id, Job.state == "running")
                             .values(heartbeat_at=now(), **values))
    session.commit()
    return result.rowcount == 1


def run(app: Flask, job_id: int) -> str:
    """Lay out the job's posters and write its PDF; returns the final state. Runs in its own
    app context and session, so it can be a thread, a CLI command or a test."""
    with app.app_context():
        session = get_session()
        claimed = session.execute(update(Job).where(Job.id == job_id, Job.state == "queued")
                                  .values(state="running", started_at=now(), heartbeat_at=now()))
        session.commit()
        if claimed.rowcount != 1:
            return "skipped"  # another worker took it, or it was reaped
        stop = threading.Event()
        threading.Thread(target=_tick, args=(app, job_id, stop), name=f"poster-job-{job_id}-heartbeat", daemon=True).start()
        try:
            return _layout(app, session, job_id)
        finally:
            stop.set()


def _tick(app: Flask, job_id: int, stop: threading.Event) -> None:
    """Beat the running job's heartbeat until `stop`: proof that its process is alive."""
    with app.app_context():
        session = get_session()
        while not stop.wait(float(app.config.get("STAFF_POSTER_JOB_HEARTBEAT", HEARTBEAT_SECONDS))):
            try:
                session.execute(update(Job).where(Job.id == job_id, Job.state == "running")
                                .values(heartbeat_at=now()))
                session.commit()
            except Exception:  # a busy database: the next beat will do
                session.rollback()
                log.warning("poster job %s: heartbeat failed", job_id, exc_info=True)


def _layout(app: Flask, session: Session, job_id: int) -> str:
    """Claimed job → its PDF; returns the final state."""
    job = session.get(Job, job_id)
    target = folder(app) / f"job-{job.id}-{size_of(job)}.pdf"
    partial = target.with_suffix(".part")
    try:
        counters = posters.counters_under(session, job.unit)
        if not counters:
            return _fail(session, job_id, NO_COUNTERS)
        base = json.loads(job.options or "{}").get("base") or codes.base_url()
        items = [posters.poster_for(c, base) for c in counters]
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if not _beat(session, job_id, done=done, total=len(items)):
                raise _Cancelled

        posters.write_pdf(items, size_of(job), partial, progress=progress, chunk=int(app.config.get("STAFF_POSTER_JOB_CHUNK", CHUNK)))
        os.chmod(partial, 0o600)
        os.replace(partial, target)
        finished = session.execute(update(Job).where(Job.id == job_id, Job.state == "running").values(
            state="done", done=len(items), total=len(items), result_path=target.name, finished_at=now(), heartbeat_at=now()))
        session.commit()
        if finished.rowcount != 1:
            target.unlink(missing_ok=True)
            return "failed"
        return "done"
    except _Cancelled:
        partial.unlink(missing_ok=True)
        return "failed"
    except Exception:  # a worker thread has nobody to raise to: the page shows the failure
        log.exception("poster job %s failed", job_id)
        session.rollback()
        partial.unlink(missing_ok=True)
        return _fail(session, job_id, FAILED)


class _Cancelled(Exception):
    """The job stopped being ours (reaped as stale) while it ran."""


def _fail(session: Session, job_id: int, message: str) -> str:
    session.execute(update(Job).where(Job.id == job_id, Job.state.in_(("queued", "running")))
                    .values(state="failed", error=message, finished_at=now()))
    session.commit()
    return "failed"


def reap(session: Session, stale_after: timedelta = STALE_AFTER) -> int:
    """Mark failed every job whose worker went silent (a restart, a killed process): a running job
    without a heartbeat for `stale_after`, a queued one never started within it. Returns how many."""
    cutoff = now() - stale_after
    result = session.execute(update(Job).where(or_(
        (Job.state == "running") & (Job.heartbeat_at < cutoff),
        (Job.state == "queued") & (Job.created_at < cutoff),
    )).values(state="failed", error=INTERRUPTED, finished_at=now()).execution_options(synchronize_session=False))
    return result.rowcount or 0


def purge(session: Session, app: Flask, days: int | None = None) -> int:
    """Delete result files of jobs finished more than `days` ago (the row stays, without a file).
    Returns how many files were deleted."""
    days = int(app.config.get("POSTER_JOB_DAYS", KEEP_DAYS)) if days is None else days
    cutoff = now() - timedelta(days=days)
    old = session.scalars(select(Job).where(Job.result_path.is_not(None), Job.finished_at < cutoff)).all()
    removed = 0
    for job in old:
        path = result_file(app, job)
        if path is not None and path.exists():
            path.unlink()
            removed += 1
        job.result_path = None
    return removed


def result_file(app: Flask, job: Job) -> Path | None:
    """The job's PDF, or None when it has none (not done yet, or deleted after KEEP_DAYS)."""
    if not job.result_path or "/" in job.result_path or job.result_path.startswith("."):
        return None
    path = folder(app) / job.result_path
    return path if path.is_file() else None


def recent(session: Session, unit: Unit, limit: int = 5) -> list[Job]:
    """The unit's latest jobs (its own, not its subtree's: each page lists the jobs started there)."""
    return list(session.scalars(select(Job).where(Job.unit_id == unit.id)
                                .order_by(Job.id.desc()).limit(limit)))


def app_of() -> Flask:
    return current_app._get_current_object()
