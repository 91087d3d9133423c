"""Background jobs of the staff side: one table (`jobs`), one mechanism, several kinds: a subtree's
poster PDF (`posters`, below) and a frame import (`frame_import`, survey/sampling/frame_jobs.py).

Why not in the request: 1,000 A6 posters take about half a minute of CPU (bench/bench_posters.py)
and a 1,000,000-row frame minutes, too long to hold a worker. Why not a broker: the state a page
needs (done/total, the result) fits a table, and any app server can read it. The request creates the
job and starts a thread in its own worker; the thread claims the job with a conditional UPDATE (so a
job runs once) and runs its kind's `run`, which records progress, while a ticker thread beats a
heartbeat every HEARTBEAT_SECONDS (a long call without progress, like the final PDF write, must not
look dead). A job whose heartbeat stopped (its server restarted) is turned into a failed one by
`reap`, so nobody waits on it forever; result files older than SURVEY_POSTER_JOB_DAYS are deleted by
`purge`. A file the job reads (a frame upload) is kept beside it (`keep_input`, 0600) and deleted
when the job ends, fails or is reaped.

A kind whose work is one long write transaction (`holds_transaction`: a frame import is all or
nothing) cannot write progress to the database while it runs on SQLite: the transaction holds the
one writer slot. Its progress and heartbeat also go to a *pulse* file beside the job (instance/jobs/,
one machine, as SQLite is); the page and `reap` read whichever is fresher. On PostgreSQL the database
is written as well, so any app server sees them.

`SURVEY_STAFF_JOBS` (or the older `SURVEY_STAFF_POSTER_JOBS`): "thread" (default) runs jobs in a
background thread; "manual" leaves them queued for `run()` (tests, or a separate process).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
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
    "running": N_("Đang chạy"),
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
WORK_FOLDER = "jobs"  # inputs kept for a job and pulse files, deleted when the job ends


class JobError(ValueError):
    """A job that cannot be created; the message is already translated."""


class JobFailed(Exception):
    """A kind's run ends the job as failed with this message (stored, shown through _())."""


@dataclass(frozen=True)
class Kind:
    """What a kind of job does: `run(app, session, job)` does the work in the claimed job's session
    and returns the final state (it ends the job itself with `finish`); `failed` is the message
    stored when it raises something unexpected."""

    run: Callable[[Flask, Session, Job], str]
    failed: str
    holds_transaction: bool = False


KINDS: dict[str, Kind] = {}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind


def now() -> datetime:
    return datetime.now(UTC)


def folder(app: Flask) -> Path:
    path = Path(app.instance_path) / FOLDER
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def work_folder(app: Flask) -> Path:
    path = Path(app.instance_path) / WORK_FOLDER
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def add(session: Session, kind: str, user: StaffUser | None, unit: Unit, *, total: int = 0,
        options: dict | None = None) -> Job:
    """A queued job of `kind` (flushed, not committed: the caller commits, then `start`s it)."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, state="queued", done=0, total=total, user_id=user.id if user else None, unit_id=unit.id,
              options=json.dumps(options or {}, ensure_ascii=False), created_at=now())
    session.add(job)
    session.flush()
    return job


def options_of(job: Job) -> dict:
    return json.loads(job.options or "{}")


def result_of(job: Job) -> dict:
    return json.loads(job.result or "{}")


def keep_input(app: Flask, job: Job, path: Path) -> Path:
    """Move the file the job will read beside it (same file system: instance/), readable by its owner only."""
    target = work_folder(app) / f"job-{job.id}-input{path.suffix.lower()}"
    os.replace(path, target)
    target.chmod(0o600)
    return target


def input_file(app: Flask, job: Job) -> Path | None:
    found = sorted(work_folder(app).glob(f"job-{job.id}-input.*"))
    return found[0] if found else None


def _pulse_file(app: Flask, job_id: int) -> Path:
    return work_folder(app) / f"job-{job_id}.pulse"


def pulse(app: Flask, job_id: int, done: int | None = None, total: int | None = None) -> None:
    """Progress (and a sign of life: the file's time) where the database cannot take it now."""
    path = _pulse_file(app, job_id)
    known = _read_pulse(path) or {}
    known.update({k: v for k, v in (("done", done), ("total", total)) if v is not None})
    part = path.with_suffix(".pulse-part")
    part.write_text(json.dumps(known), encoding="utf-8")
    os.replace(part, path)


def _read_pulse(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def progress_of(app: Flask, job: Job) -> tuple[int, int]:
    """(done, total) of a job: its row, or its pulse file while it runs when that is further on."""
    done, total = job.done, job.total
    if job.state == "running":
        live = _read_pulse(_pulse_file(app, job.id)) or {}
        if live.get("done", -1) >= done:
            done, total = live["done"], live.get("total", total)
    return done, total


def as_shown(session: Session, job_id: int) -> tuple[Job, int, int]:
    """(job, done, total) as a job page shows it: stale jobs reaped first (committed), the row read
    afresh, the progress from the row or the pulse file."""
    if reap(session):
        session.commit()
    job = session.get(Job, job_id)
    session.refresh(job)
    return job, *progress_of(app_of(), job)


def _alive(app: Flask, job_id: int, cutoff: datetime) -> bool:
    try:
        return datetime.fromtimestamp(_pulse_file(app, job_id).stat().st_mtime, UTC) >= cutoff
    except OSError:
        return False


def _end_files(app: Flask, job_id: int) -> None:
    _pulse_file(app, job_id).unlink(missing_ok=True)
    for path in work_folder(app).glob(f"job-{job_id}-input.*"):
        path.unlink(missing_ok=True)


def start(app: Flask, job_id: int) -> None:
    """Run the (committed) job in a background thread of this worker, unless jobs are run elsewhere."""
    if app.config.get("STAFF_JOBS", app.config.get("STAFF_POSTER_JOBS", "thread")) != "thread":
        return
    threading.Thread(target=run, args=(app, job_id), name=f"job-{job_id}", daemon=True).start()


def _beat(session: Session, job_id: int, **values: object) -> bool:
    """Update a running job; False when it is no longer running (reaped meanwhile)."""
    result = session.execute(update(Job).where(Job.id == job_id, Job.state == "running")
                             .values(heartbeat_at=now(), **values))
    session.commit()
    return result.rowcount == 1


def beat_aside(app: Flask, job_id: int, **values: object) -> bool:
    """Progress of a job whose own session holds an open transaction: in the pulse file, and on
    PostgreSQL also in the row through a session of its own. False when the job was reaped."""
    pulse(app, job_id, values.get("done"), values.get("total"))
    session = app.extensions["survey_db"]["sessionmaker"]()
    try:
        if session.get_bind().dialect.name == "sqlite":
            return True  # the writer slot is the import's until it commits
        return _beat(session, job_id, **values)
    finally:
        session.close()


def finish(session: Session, job_id: int, **values: object) -> bool:
    """Mark the running job done in the caller's transaction (not committed: a kind that writes
    data commits both at once). False when it is no longer running."""
    result = session.execute(update(Job).where(Job.id == job_id, Job.state == "running")
                             .values(state="done", finished_at=now(), heartbeat_at=now(), **values))
    return result.rowcount == 1


def run(app: Flask, job_id: int) -> str:
    """Claim the job and run its kind; returns the final state. Runs in its own app context and
    session, so it can be a thread, a CLI command or a test."""
    with app.app_context():
        session = get_session()
        claimed = session.execute(update(Job).where(Job.id == job_id, Job.state == "queued")
                                  .values(state="running", started_at=now(), heartbeat_at=now()))
        session.commit()
        if claimed.rowcount != 1:
            return "skipped"  # another worker took it, or it was reaped
        job = session.get(Job, job_id)
        kind = KINDS.get(job.kind)
        if kind is None:  # a kind this process does not know (an older or newer release)
            return _fail(session, job_id, INTERRUPTED)
        pulse(app, job_id)
        stop = threading.Event()
        threading.Thread(target=_tick, args=(app, job_id, stop, kind.holds_transaction), name=f"job-{job_id}-heartbeat",
                         daemon=True).start()
        try:
            return kind.run(app, session, job)
        except JobFailed as exc:
            session.rollback()
            return _fail(session, job_id, str(exc))
        except Cancelled:
            session.rollback()
            return "failed"
        except Exception:  # a worker thread has nobody to raise to: the page shows the failure
            log.exception("job %s (%s) failed", job_id, job.kind)
            session.rollback()
            return _fail(session, job_id, kind.failed)
        finally:
            stop.set()
            _end_files(app, job_id)


def _tick(app: Flask, job_id: int, stop: threading.Event, aside: bool) -> None:
    """Beat the running job's heartbeat until `stop`: proof that its process is alive."""
    with app.app_context():
        session = get_session()
        while not stop.wait(float(app.config.get("STAFF_POSTER_JOB_HEARTBEAT", HEARTBEAT_SECONDS))):
            try:
                if aside:
                    beat_aside(app, job_id)
                    continue
                session.execute(update(Job).where(Job.id == job_id, Job.state == "running").values(heartbeat_at=now()))
                session.commit()
            except Exception:  # a busy database: the next beat will do
                session.rollback()
                log.warning("job %s: heartbeat failed", job_id, exc_info=True)


class Cancelled(Exception):
    """The job stopped being ours (reaped as stale) while it ran: its work is dropped."""


def _fail(session: Session, job_id: int, message: str) -> str:
    session.execute(update(Job).where(Job.id == job_id, Job.state.in_(("queued", "running")))
                    .values(state="failed", error=message, finished_at=now()))
    session.commit()
    return "failed"


def reap(session: Session, stale_after: timedelta = STALE_AFTER) -> int:
    """Mark failed every job whose worker went silent (a restart, a killed process): a running job
    without a heartbeat (in its row or its pulse file) for `stale_after`, a queued one never started
    within it. Only reads unless one is found (a page polled during an SQLite import must not wait
    for the writer slot). Returns how many."""
    app = app_of()
    cutoff = now() - stale_after
    stale = session.scalars(select(Job.id).where(or_(
        (Job.state == "running") & (Job.heartbeat_at < cutoff),
        (Job.state == "queued") & (Job.created_at < cutoff),
    ))).all()
    stale = [job_id for job_id in stale if not _alive(app, job_id, cutoff)]
    if not stale:
        return 0
    result = session.execute(update(Job).where(Job.id.in_(stale), Job.state.in_(("queued", "running")))
                             .values(state="failed", error=INTERRUPTED, finished_at=now())
                             .execution_options(synchronize_session=False))
    for job_id in stale:
        _end_files(app, job_id)
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


def recent(session: Session, unit: Unit, kind: str = "posters", limit: int = 5) -> list[Job]:
    """The unit's latest jobs of a kind (its own, not its subtree's: each page lists the jobs started there)."""
    return list(session.scalars(select(Job).where(Job.unit_id == unit.id, Job.kind == kind)
                                .order_by(Job.id.desc()).limit(limit)))


def app_of() -> Flask:
    return current_app._get_current_object()


# --- posters: a subtree's poster PDF ----------------------------------------------------------

def size_of(job: Job) -> str:
    return options_of(job).get("size", "a6")


def create(session: Session, user: StaffUser, unit: Unit, size: str, base: str) -> Job:
    """A queued poster job for the active counters of `unit`'s subtree (none: JobError). `base` is
    the public address taken in the request (codes.base_url), as the synchronous download uses."""
    if size not in posters.SIZES:
        raise JobError(N_("Khổ giấy không hợp lệ: chọn A4 hoặc A6."))
    total = len(posters.counters_under(session, unit))
    if not total:
        raise JobError(N_("Đơn vị này và các đơn vị cấp dưới chưa có quầy nào đang hoạt động."))
    return add(session, "posters", user, unit, total=total, options={"size": size, "base": base})


def _layout(app: Flask, session: Session, job: Job) -> str:
    """Claimed job → its PDF; returns the final state."""
    job_id = job.id
    target = folder(app) / f"job-{job.id}-{size_of(job)}.pdf"
    partial = target.with_suffix(".part")
    try:
        counters = posters.counters_under(session, job.unit)
        if not counters:
            raise JobFailed(NO_COUNTERS)
        base = options_of(job).get("base") or codes.base_url()
        items = [posters.poster_for(c, base) for c in counters]
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if not _beat(session, job_id, done=done, total=len(items)):
                raise Cancelled

        posters.write_pdf(items, size_of(job), partial, progress=progress, chunk=int(app.config.get("STAFF_POSTER_JOB_CHUNK", CHUNK)))
        os.chmod(partial, 0o600)
        os.replace(partial, target)
        finished = finish(session, job_id, done=len(items), total=len(items), result_path=target.name)
        session.commit()
        if not finished:
            target.unlink(missing_ok=True)
            return "failed"
        return "done"
    finally:
        partial.unlink(missing_ok=True)


register("posters", Kind(run=_layout, failed=FAILED))
