"""A frame import as a background job (kind `frame_import` of survey/staff/jobs.py): a province's
quarter (1,000,000 rows) takes minutes, too long for a request and its worker.

The upload, already mapped on the page, is moved beside the job (instance/jobs/, 0600) and deleted
when the job ends. The thread counts the file's lines (a CSV; a workbook's rows are known only once
read), then imports it through `frames.import_frame` in ONE transaction, which also holds the audit
row and the job's `done` mark: a file that turns out broken half-way, a server error or a restart
leaves no dossier of it behind (the transaction is rolled back, or never committed), and the job
ends failed with the reason. Progress (rows read) goes to the job's pulse file and, on PostgreSQL,
its row (jobs.beat_aside), since the import's own session must not commit before the end.
Messages are in the language of the coordinator who started it.
"""
from __future__ import annotations

import json
from flask import Flask
from sqlalchemy.orm import Session

from ..i18n import N_, _, outside_request
from ..models import FrameImport, Job, StaffUser, Unit
from ..staff import audit, jobs
from . import frames

KIND = "frame_import"
FAILED = N_("Nhập khung mẫu không thành công do lỗi máy chủ; lỗi đã được ghi lại. Không hồ sơ nào của tệp được lưu.")
INPUT_GONE = N_("Tệp tải lên không còn trên máy chủ: vui lòng tải tệp lên lại.")


def create(session: Session, user: StaffUser, root: Unit, *, filename: str, source: str, mapping: dict[str, str],
           locale: str) -> Job:
    """A queued import for `root`'s subtree; the caller commits, moves the upload beside it
    (jobs.keep_input: a failed commit leaves no file behind) and starts it."""
    return jobs.add(session, KIND, user, root, options={"filename": filename, "source": source, "mapping": mapping,
                                                        "locale": locale})


def _run(app: Flask, session: Session, job: Job) -> str:
    options = jobs.options_of(job)
    with outside_request(options.get("locale", "vi")):
        return _import(app, session, job, options)


def _import(app: Flask, session: Session, job: Job, options: dict) -> str:
    path = jobs.input_file(app, job)
    if path is None:
        raise jobs.JobFailed(INPUT_GONE)
    job_id, root, user = job.id, job.unit, job.user
    total = frames.line_count(path) or 0
    read = 0
    jobs.beat_aside(app, job_id, done=0, total=total)

    def progress(n: int) -> None:
        nonlocal read
        read += n
        if not jobs.beat_aside(app, job_id, done=read, total=max(total, read)):
            raise jobs.Cancelled

    try:
        report = frames.import_frame(session, root, path, source=options["source"], mapping=options["mapping"],
                                     filename=options["filename"], actor_login=user.login if user else None,
                                     progress=progress)
    except frames.FrameError as exc:
        raise jobs.JobFailed(_("{why} Không hồ sơ nào của tệp được lưu; sửa tệp rồi nhập lại.", why=str(exc))) from None
    audit.record(session, "frame_imported", actor=user, unit=root, target=options["filename"], created=report.created,
                 unchanged=report.unchanged, rejected=len(report.rejected), job=job_id)
    if not jobs.finish(session, job_id, done=read, total=max(total, read), result=json.dumps({"import_id": report.import_id})):
        session.rollback()  # reaped meanwhile: the page already says it failed, so nothing is kept
        return "failed"
    session.commit()
    return "done"


def report_of(session: Session, job: Job) -> frames.ImportReport | None:
    """The validation report of a finished job, as the import made it (stored with the import)."""
    import_id = jobs.result_of(job).get("import_id")
    row = session.get(FrameImport, import_id) if import_id else None
    if row is None:
        return None
    return frames.ImportReport(created=row.created, unchanged=row.unchanged,
                               rejected=[tuple(r) for r in json.loads(row.rejections or "[]")],
                               notes=[tuple(n) for n in json.loads(row.notes or "[]")], import_id=row.id)


jobs.register(KIND, jobs.Kind(run=_run, failed=FAILED, holds_transaction=True))
