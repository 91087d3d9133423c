"""Staff pages for poster jobs (survey/staff/jobs.py): start one for a unit's subtree, watch its
progress (static/job-poll.js swaps in the fresh status; without script, a refresh link), download the
PDF (audited), run a failed one again. A job is seen only by those who may manage its unit."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, send_file, url_for
from sqlalchemy.orm import Session

from ..db import get_session
from ..errors import abort_with
from ..i18n import _
from ..models import Job, Unit
from ..qr import codes
from . import audit, jobs
from .forms import ActionForm
from .registry_pages import bp, me, unit_by_code
from .scope import require


def unit_of_job(session: Session, job_id: int, **_: object) -> Unit | None:
    job = session.get(Job, job_id)
    return job.unit if job is not None and job.kind == "posters" else None


def _start(unit: Unit, size: str, again_of: int | None = None):
    db = get_session()
    app = jobs.app_of()
    jobs.reap(db)
    jobs.purge(db, app)
    try:
        job = jobs.create(db, me(), unit, size, codes.base_url())
    except jobs.JobError as exc:
        db.rollback()
        abort_with(422, _(str(exc)))
    audit.record(db, "poster_job_started", actor=me(), unit=unit, target=unit.code, job=job.id, size=size,
                 counters=job.total, again_of=again_of)
    db.commit()
    jobs.start(app, job.id)
    return redirect(url_for(".poster_job", job_id=job.id))


@bp.post("/units/<code>/poster-jobs")
@require("manage_registry", unit=unit_by_code)
def poster_job_start(code: str):
    size = request.form.get("size", "a6")
    if size not in jobs.posters.SIZES:
        abort_with(400, _("Khổ giấy không hợp lệ: chọn A4 hoặc A6."))
    return _start(unit_by_code(get_session(), code), size)


@bp.get("/poster-jobs/<int:job_id>")
@require("manage_registry", unit=unit_of_job)
def poster_job(job_id: int):
    job, done, total = jobs.as_shown(get_session(), job_id)
    ready = job.state == "done" and jobs.result_file(jobs.app_of(), job) is not None
    percent = int(100 * done / total) if total else 0
    return render_template("staff/poster_job.html", job=job, size=jobs.size_of(job), ready=ready, percent=percent,
                           states=jobs.STATES, running=job.state in ("queued", "running"),
                           action=ActionForm(), local_time=audit.local_time)


@bp.get("/poster-jobs/<int:job_id>/posters.pdf")
@require("manage_registry", unit=unit_of_job)
def poster_job_download(job_id: int):
    db = get_session()
    job = db.get(Job, job_id)
    path = jobs.result_file(jobs.app_of(), job) if job.state == "done" else None
    if path is None:
        abort_with(404, _("Tệp áp phích chưa sẵn sàng hoặc đã bị xoá sau {n} ngày; vui lòng tạo lại.",
                          n=jobs.app_of().config.get("POSTER_JOB_DAYS", jobs.KEEP_DAYS)))
    audit.record(db, "export", actor=me(), unit=job.unit, target=job.unit.code, kind="posters", job=job.id,
                 size=jobs.size_of(job), counters=job.total)
    db.commit()
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"posters-{job.unit.code}-{jobs.size_of(job)}.pdf", max_age=0)


@bp.post("/poster-jobs/<int:job_id>/again")
@require("manage_registry", unit=unit_of_job)
def poster_job_again(job_id: int):
    job = get_session().get(Job, job_id)
    if job.state in ("queued", "running"):
        flash(_("Công việc này vẫn đang chạy."), "info")
        return redirect(url_for(".poster_job", job_id=job.id))
    return _start(job.unit, jobs.size_of(job), again_of=job.id)
