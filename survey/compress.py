"""gzip for text responses: the citizen form must stay small on a slow phone connection even
when no reverse proxy compresses for us (a commune running the app on one machine)."""
from __future__ import annotations

import gzip

from flask import Flask, Response, request

MIN_SIZE = 1024
TYPES = ("text/html", "text/css", "application/javascript", "text/javascript", "application/json", "image/svg+xml", "text/csv")


def init_app(app: Flask) -> None:
    @app.after_request
    def compress(response: Response) -> Response:
        if (
            response.direct_passthrough
            or response.status_code < 200 or response.status_code >= 300
            or "gzip" not in request.headers.get("Accept-Encoding", "")
            or response.mimetype not in TYPES
            or "Content-Encoding" in response.headers
        ):
            return response
        data = response.get_data()
        if len(data) < MIN_SIZE:
            return response
        response.set_data(gzip.compress(data, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        return response
