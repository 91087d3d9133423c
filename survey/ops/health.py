"""Health endpoint for load balancers and orchestrators: is this app server able to serve?

200 when the database answers and holds the schema, 503 otherwise, so a reverse proxy takes a
server out of rotation instead of sending citizens to it. Never cached, never gzipped (tiny).
"""
from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy.exc import SQLAlchemyError

from .. import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.ping(db.engine())
    except SQLAlchemyError as exc:
        current_app.logger.warning("health check: database unavailable: %s", exc.__class__.__name__)
        status, code = {"status": "unavailable", "database": "unavailable"}, 503
    else:
        status, code = {"status": "ok", "database": "ok"}, 200
    return status, code, {"Cache-Control": "no-store"}
