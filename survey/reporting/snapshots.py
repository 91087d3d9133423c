"""Published reports, frozen (issue #14 item 4): publishing stores the PDF and XLSX bytes exactly
as rendered, with the figures as JSON, the filters, the method, the data cut-off, who published
it and the files' sha256. A stored report is never changed: the model refuses updates and
deletes, and a correction is the next version of the same report (same unit and filters), which
names the version it corrects and says why. Downloads serve the stored bytes, so a file fetched
a year later, after new responses, is the same file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import PublishedReport, StaffUser, Unit
from . import files
from .dashboard import Dashboard, Filters

METHOD = {
    "satisfaction": "share answering 4 or 5 among answers 1-5; no-opinion answers excluded from the denominator",
    "interval": "Wilson 95%; indices over several criteria use a conservative effective sample size",
    "target_test": "one-sided exact binomial test, alpha 0.05; fewer than 30 answers: not enough data",
    "change": "difference of two proportions with a Newcombe 95% interval, in percentage points",
    "sources": "counter feedback and the sampled survey are never pooled; each questionnaire is its own instrument",
    "exclusions": "responses with quality flags are left out",
}
MAX_NUMBER, MAX_NOTE = 80, 2000


class PublishError(ValueError):
    """A publication the form must refuse; the message is translated and names the fix."""


def filters_json(f: Filters) -> dict:
    p = f.period
    return {"period_kind": p.kind, "since": p.since.isoformat(), "until": p.until.isoformat(), "unit": f.unit,
            "field": f.field, "questionnaire": f.questionnaire, "channel": f.channel, "source": f.source,
            **({"procedure": f.procedure} if f.procedure else {})}  # absent when unset: older reports keep their key


def report_key(f: Filters) -> str:
    """Versions of one report share unit and filters; this is that identity as text."""
    return json.dumps(filters_json(f), sort_keys=True, separators=(",", ":"))[:300]


def figures_json(board: Dashboard) -> dict:
    """The figures the files show, as data (what a later reader or machine can check the files against)."""
    def target(t):
        return None if t is None else {"id": t.id, "comparator": t.comparator, "threshold": t.threshold, "source": t.source}

    return {
        "fields": [{"instrument": r.instrument, "source": r.source, "field": r.field, "measure": r.measure,
                    "current": asdict(r.current), "previous": asdict(r.previous), "target": target(r.target),
                    "verdict": r.verdict if r.target else None, "p_value": r.p_value, "diff": r.diff,
                    "diff_low": r.diff_low, "diff_high": r.diff_high} for r in board.fields],
        "units": [{"unit": u.unit, "name": u.name, "depth": u.depth, "source": u.source, "n": u.figure.n,
                   "pct": None if u.suppressed else u.figure.pct, "ci_low": None if u.suppressed else u.figure.ci_low,
                   "ci_high": None if u.suppressed else u.figure.ci_high} for u in board.units],
        "criteria": json.loads(board.criteria.to_json(orient="records")) if len(board.criteria) else [],
        "excluded": board.excluded,
        "targets_origin": str(board.targets_origin),
    }


def versions(session: Session, key: str) -> list[PublishedReport]:
    return list(session.scalars(select(PublishedReport).where(PublishedReport.report_key == key)
                                .order_by(PublishedReport.version)))


def publish(session: Session, board: Dashboard, user: StaffUser | None, number: str = "", note: str = "",
            day: date | None = None, cutoff: datetime | None = None) -> PublishedReport:
    """Render both files once and store them with their figures. Publishing the same unit and filters
    again is a correction: the next version, linking the latest one, and it must say what it corrects."""
    number, note = number.strip(), note.strip()
    if len(number) > MAX_NUMBER:
        raise PublishError(_("Số văn bản dài quá {n} ký tự: hãy rút gọn.", n=MAX_NUMBER))
    if len(note) > MAX_NOTE:
        raise PublishError(_("Nội dung đính chính dài quá {n} ký tự: hãy rút gọn.", n=MAX_NOTE))
    key = report_key(board.filters)
    latest = session.scalar(select(PublishedReport).where(PublishedReport.report_key == key)
                            .order_by(PublishedReport.version.desc()).limit(1))
    if latest is not None and not note:
        raise PublishError(_("Báo cáo này đã công bố (phiên bản {v}): công bố lại là bản đính chính, hãy ghi rõ "
                             "nội dung đính chính.", v=latest.version))
    cut = cutoff or files.cutoff(session, board)
    day = day or files.today()
    printed_number = (_("Số: {number}", number=number) if number else None)
    pdf = files.pdf(session, board, cut, day, printed_number)
    xlsx = files.xlsx(board, cut)
    f = board.filters
    title = _("Báo cáo kết quả khảo sát sự hài lòng – {unit} – {period}", unit=board.unit.name, period=f.period.label)
    report = PublishedReport(
        unit_id=board.unit.id, report_key=key, version=(latest.version + 1) if latest else 1,
        corrects_id=latest.id if latest else None, number=number or None, title=title[:400], note=note or None,
        filters=json.dumps(filters_json(f), ensure_ascii=False), method=json.dumps(METHOD, ensure_ascii=False),
        figures=json.dumps(figures_json(board), ensure_ascii=False), data_cutoff=cut,
        published_by_id=user.id if user else None, published_by_login=user.login if user else None,
        pdf=pdf, xlsx=xlsx, pdf_sha256=hashlib.sha256(pdf).hexdigest(), xlsx_sha256=hashlib.sha256(xlsx).hexdigest(),
    )
    session.add(report)
    session.flush()
    return report


def for_unit(session: Session, unit: Unit) -> list[PublishedReport]:
    """The unit's published reports, newest first (the bytes are not loaded until a download)."""
    from sqlalchemy.orm import defer

    return list(session.scalars(select(PublishedReport).where(PublishedReport.unit_id == unit.id)
                                .options(defer(PublishedReport.pdf), defer(PublishedReport.xlsx))
                                .order_by(PublishedReport.published_at.desc(), PublishedReport.id.desc())))


def get(session: Session, unit: Unit, report_id: int) -> PublishedReport | None:
    report = session.get(PublishedReport, report_id)
    return report if report is not None and report.unit_id == unit.id else None


def count(session: Session, unit: Unit) -> int:
    return session.scalar(select(func.count()).select_from(PublishedReport).where(PublishedReport.unit_id == unit.id)) or 0
