"""The append-only audit trail: who did what, on which unit, from where.

`record()` only ever inserts. The model refuses updates and deletes through the ORM and no
route changes a row; administrators read the trail on a page and export it as CSV (an export
that is itself audited).
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..i18n import N_
from ..models import AuditEvent, StaffUser, Unit
from ..sheets import safe_cell

# Every audited action with its label. Later issues (sampling, personal data) add theirs here.
ACTIONS = {
    "login": N_("Đăng nhập"),
    "login_failed": N_("Đăng nhập sai"),
    "login_throttled": N_("Đăng nhập bị tạm chặn"),
    "logout": N_("Đăng xuất"),
    "session_refused": N_("Phiên của tài khoản bị khoá bị từ chối"),
    "access_denied": N_("Truy cập bị từ chối"),
    "password_changed": N_("Đổi mật khẩu"),
    "user_created": N_("Tạo tài khoản"),
    "user_disabled": N_("Khoá tài khoản"),
    "user_enabled": N_("Mở khoá tài khoản"),
    "password_reset": N_("Cấp lại mật khẩu"),
    "role_granted": N_("Cấp vai trò"),
    "role_revoked": N_("Thu hồi vai trò"),
    "unit_created": N_("Thêm đơn vị"),
    "unit_updated": N_("Sửa đơn vị"),
    "counter_created": N_("Thêm quầy"),
    "counter_updated": N_("Sửa quầy"),
    "questionnaire_published": N_("Xuất bản phiếu khảo sát"),
    "credential_rotated": N_("Cấp khoá API mới"),
    "export": N_("Xuất dữ liệu"),
    "poster_job_started": N_("Tạo áp phích trong nền"),
    "unit_moved": N_("Chuyển đơn vị sang đơn vị cấp trên khác"),
    "personal_data_viewed": N_("Xem dữ liệu cá nhân"),
    "sample_drawn": N_("Chọn mẫu"),
    "recheck_drawn": N_("Chọn phiếu phúc tra"),
    "frame_import_started": N_("Bắt đầu nhập khung mẫu trong nền"),
    "frame_imported": N_("Nhập khung mẫu"),
    "frame_purged": N_("Xoá dữ liệu cá nhân quá hạn lưu của khung mẫu"),
    "comment_reviewed": N_("Đánh dấu đã xem ý kiến người dân"),
    "report_published": N_("Công bố báo cáo"),
    "published_report_downloaded": N_("Tải báo cáo đã công bố"),
}


def record(session: Session, action: str, *, actor: StaffUser | None = None, actor_login: str | None = None,
           unit: Unit | None = None, target: str | None = None, **detail: Any) -> AuditEvent:
    """Add one audit row in the caller's transaction (the caller commits with its own change,
    so an action and its audit row are stored together or not at all)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action '{action}': add it to survey.staff.audit.ACTIONS")
    event = AuditEvent(
        action=action, actor_id=actor.id if actor is not None else None,
        actor_login=(actor.login if actor is not None else actor_login or None),
        unit_id=unit.id if unit is not None else None, target=(target or None) and target[:200],
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None,
        remote_addr=request.remote_addr if has_request_context() else "cli",
    )
    session.add(event)
    return event


def events(action: str | None = None) -> Select[tuple[AuditEvent]]:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    return stmt.where(AuditEvent.action == action) if action else stmt


VIETNAM = timezone(timedelta(hours=7))


def local_time(at: datetime) -> str:
    """21/11/2026 14:05 in Vietnam time, as staff read it."""
    return at.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


CSV_COLUMNS = ("id", "at_utc", "vietnam_time", "actor", "action", "unit_id", "target", "detail", "remote_addr")


def to_csv(rows: Iterable[AuditEvent]) -> str:
    """UTF-8 with BOM, so Excel shows Vietnamese correctly."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in rows:
        writer.writerow([e.id, e.at.isoformat(), local_time(e.at), _cell(e.actor_login), e.action,
                         e.unit_id or "", _cell(e.target), _cell(e.detail), _cell(e.remote_addr)])
    return out.getvalue()


def _cell(value: str | None) -> str:
    """Text as Excel must show it, never run it (the one rule, sheets.safe_cell): a failed log-in's
    name is typed by anyone, and "=HYPERLINK(…)" in a cell would be a formula on the administrator's machine."""
    return safe_cell(value or "")
