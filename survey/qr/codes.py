"""QR codes and the short public URLs they carry (counter posters, dossier receipts).

Error correction M (15% of the code may be damaged) is the usual compromise for print:
it keeps a 40-character URL at version 3–4 (29–33 modules), which scans from a metre
away when printed 7 cm wide on an A6 card.
"""
from __future__ import annotations

import io
from collections.abc import Iterator

import qrcode
from flask import current_app, has_request_context, request
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from werkzeug.exceptions import ServiceUnavailable

from ..i18n import _

QUIET_ZONE = 4  # modules of white border the QR standard requires around the code
# Printed size of a standalone SVG: 40 mm (quiet zone included) scans from about 40 cm at a counter
# and fits an A6 card; without a unit, a print shop or a word processor would guess one (often 41 px ≈ 1 cm).
SVG_SIZE = "40mm"


class NoBaseUrl(ServiceUnavailable):
    """Printing a code needs the public address citizens will reach (SURVEY_PUBLIC_BASE_URL).
    In a request it is a 503 page that says what the operator must set."""

    survey_detail = True  # errors.http_error shows the description

    def __init__(self, description: str) -> None:
        super().__init__(_("Máy chủ chưa được cấu hình địa chỉ công khai (SURVEY_PUBLIC_BASE_URL), nên chưa tạo được "
                           "đường dẫn và mã QR. Vui lòng báo quản trị hệ thống.") if has_request_context() else description)


def base_url(override: str | None = None) -> str:
    """Where citizens reach the app: the explicit override, else PUBLIC_BASE_URL.

    A link printed on paper outlives the request that made it, so it must not take its host
    from a Host header an attacker chose: the request's host is used only when Flask has
    validated it against TRUSTED_HOSTS, or in debug and tests.
    """
    base = override or current_app.config.get("PUBLIC_BASE_URL")
    if not base and has_request_context() and (
        current_app.config.get("TRUSTED_HOSTS") or current_app.debug or current_app.testing
    ):
        base = request.host_url
    if not base:
        raise NoBaseUrl("set SURVEY_PUBLIC_BASE_URL (or pass --base) to the address citizens will use")
    return base.rstrip("/")


def counter_url(public_code: str, base: str | None = None) -> str:
    return f"{base_url(base)}/c/{public_code}"


def dossier_url(token: str, base: str | None = None) -> str:
    return f"{base_url(base)}/d/{token}"


def _matrix(data: str) -> list[list[bool]]:
    """The code's modules (True = dark) with the quiet zone. The costly step (the library tries
    all eight masks in pure Python, ~10–30 ms), so callers wanting SVG and PNG share one matrix."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def dark_runs(matrix: list[list[bool]]) -> Iterator[tuple[int, int, int]]:
    """(x, y, length) of every horizontal run of dark modules: one rectangle per run keeps an SVG
    or a PDF content stream several times smaller than one per module."""
    for y, row in enumerate(matrix):
        x, n = 0, len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                yield start, y, x - start
            else:
                x += 1


def _svg(matrix: list[list[bool]], size: str | None = None) -> str:
    n = len(matrix)
    runs = [f"M{x} {y}h{length}v1h-{length}z" for x, y, length in dark_runs(matrix)]
    dims = f' width="{size or SVG_SIZE}" height="{size or SVG_SIZE}"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}"{dims} shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d="{"".join(runs)}"/></svg>'
    )


def _png(matrix: list[list[bool]], box_size: int = 10) -> bytes:
    n = len(matrix)
    image = Image.new("1", (n, n))
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    out = io.BytesIO()
    image.resize((n * box_size, n * box_size), Image.Resampling.NEAREST).save(out, format="PNG")
    return out.getvalue()


def qr_svg(data: str, size: str | None = None) -> str:
    """A standalone SVG of the code: one path of horizontal runs, so print engines draw it fast
    and sharp at any size. `size` (e.g. "70mm") sets the printed width and height; default SVG_SIZE."""
    return _svg(_matrix(data), size)


def qr_png(data: str, box_size: int = 10) -> bytes:
    """A PNG of the code, `box_size` pixels per module (10 px ≈ 4 cm at 300 dpi for a receipt link)."""
    return _png(_matrix(data), box_size)


def qr_svg_and_png(data: str) -> tuple[str, bytes]:
    matrix = _matrix(data)
    return _svg(matrix), _png(matrix)
