"""Every error is a page in the visitor's language (or JSON for API clients), never a trace."""
from __future__ import annotations

from typing import NoReturn

from flask import Flask, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, default_exceptions

from .i18n import N_, _

MESSAGES = {
    400: (N_("Yêu cầu không hợp lệ"), N_("Dữ liệu gửi lên không đúng. Vui lòng quay lại trang trước và thử lại.")),
    403: (N_("Không có quyền truy cập"), N_("Ông/Bà không có quyền xem trang này.")),
    404: (N_("Không tìm thấy trang"), N_("Đường dẫn không tồn tại hoặc phiếu khảo sát đã ngừng sử dụng. Vui lòng kiểm tra lại mã QR hoặc đường dẫn.")),
    405: (N_("Phương thức không được hỗ trợ"), N_("Trang này không nhận yêu cầu theo cách này.")),
    410: (N_("Đường dẫn đã hết hạn"), N_("Đường dẫn khảo sát này đã hết hạn.")),
    413: (N_("Dữ liệu gửi lên quá lớn"), N_("Nội dung gửi lên vượt quá giới hạn cho phép. Vui lòng rút ngắn phần ý kiến và gửi lại.")),
    422: (N_("Dữ liệu chưa hợp lệ"), N_("Vui lòng kiểm tra lại các câu trả lời.")),
    429: (N_("Gửi quá nhiều lần"), N_("Ông/Bà đã gửi quá nhiều lần trong thời gian ngắn. Vui lòng thử lại sau ít phút.")),
    500: (N_("Đã xảy ra lỗi"), N_("Hệ thống gặp sự cố. Câu trả lời của Ông/Bà chưa được lưu; vui lòng thử lại sau ít phút.")),
    503: (N_("Hệ thống tạm thời gián đoạn"), N_("Cơ sở dữ liệu tạm thời không truy cập được. Câu trả lời của Ông/Bà chưa được lưu; vui lòng thử lại sau ít phút.")),
}


def render_error(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return {"error": _(title), "message": detail or _(message), "status": code}, code
    if request_ctx.url_adapter is None:  # the Host was refused (TRUSTED_HOSTS): no URL can be built
        return f"{_(title)}\n\n{detail or _(message)}\n", code, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("errors/error.html", code=code, title=_(title), message=_(message), detail=detail), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(400, _("Phiên làm việc đã hết hạn hoặc không hợp lệ. Vui lòng tải lại phiếu và gửi lại."))

    @app.errorhandler(HTTPException)  # also catches unexpected errors, which Flask wraps in a 500
    def http_error(exc: HTTPException):
        detail = exc.description if getattr(exc, "survey_detail", False) else None
        return render_error(exc.code or 500, detail)

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError):
        app.logger.error("database unavailable: %s", exc)
        return render_error(503)


def abort_with(code: int, detail: str) -> NoReturn:
    """Abort with a message meant for the visitor (already translated), shown on the error page."""
    exc = default_exceptions[code](description=detail)
    exc.survey_detail = True
    raise exc
