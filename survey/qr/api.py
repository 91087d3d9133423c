"""Machine clients: the unit's one-stop software mints per-dossier links for its receipts.

POST /api/v1/dossier-links, `Authorization: Bearer <api key>`, JSON body
{dossier_code, field?, procedure?, completed_on}. 201 with the link and its QR (SVG and PNG)
when new, 200 with the same link when the dossier was minted before; `?format=svg|png` returns
the QR image alone. Errors are JSON: 401 (no or wrong key), 409 (minted before with other
details), 413 (body over 4 KB), 422 (bad body, `field` names the input).
"""
from __future__ import annotations

import base64
import json

from flask import Blueprint, Response, current_app, g, jsonify, request

from ..db import get_session
from ..security import csrf
from . import codes, credentials, dossiers

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # authenticated by API key, not by a browser session

MAX_BODY = 4096


@bp.before_request
def english() -> None:
    """The API answers programs and the developers who write them, in English throughout: also
    the domain's reasons (MintError), which are Vietnamese first for the people at the CLI."""
    g.locale = "en"


def _error(status: int, error: str, message: str, **extra: str) -> Response:
    resp = jsonify({"error": error, "message": message, "status": status, **extra})
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="sipas"'
    return resp


def _body() -> bytes | None:
    """The request body if it is at most MAX_BODY bytes, else None. Counted on the bytes read, so
    a chunked body (no Content-Length) is held to the same limit; never more than one byte over is read."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    data = request.stream.read(MAX_BODY + 1)
    return None if len(data) > MAX_BODY else data


def _json_object(data: bytes) -> dict | None:
    if not request.is_json:
        return None
    try:
        body = json.loads(data)
    except ValueError:  # not UTF-8 or not JSON
        return None
    return body if isinstance(body, dict) else None


@bp.post("/dossier-links")
def mint_dossier_link():
    data = _body()
    if data is None:
        return _error(413, "too_large", f"request body over {MAX_BODY} bytes")
    scheme, _sp, api_key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        return _error(401, "unauthorized", "send the unit's API key as 'Authorization: Bearer <key>'")
    session = get_session()
    credential = credentials.authenticate(session, api_key.strip())
    if credential is None:
        return _error(401, "unauthorized", "unknown or revoked API key")
    body = _json_object(data)
    if body is None:
        return _error(422, "invalid", "the body must be a JSON object", field="body")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "svg", "png"):
        return _error(422, "invalid", "format must be json, svg or png", field="format")
    try:
        minted = dossiers.mint(session, credential, body.get("dossier_code"), body.get("field"), body.get("procedure"),
                               body.get("completed_on"), current_app.config["DOSSIER_LINK_DAYS"])
    except dossiers.MintError as exc:
        session.rollback()
        return _error(422, "invalid", str(exc), field=exc.field)
    except dossiers.MintConflict:
        session.rollback()
        return _error(409, "conflict", "this dossier already has a link with a different field, procedure or completion date")
    except credentials.SecretUnavailable:
        session.rollback()
        current_app.logger.error("unit credential %s cannot be unwrapped with the configured link key: "
                                 "run `flask --app wsgi units rewrap-secrets --old-key-file`", credential.key_id)
        return _error(503, "unavailable", "the server cannot sign links for this unit until its administrator "
                                          "restores the link key; try again later")
    session.commit()
    url = codes.dossier_url(minted.token)
    status = 201 if minted.created else 200
    if fmt == "svg":
        return Response(codes.qr_svg(url), status, mimetype="image/svg+xml")
    if fmt == "png":
        return Response(codes.qr_png(url), status, mimetype="image/png")
    svg, png = codes.qr_svg_and_png(url)
    return jsonify({
        "url": url, "token": minted.token, "dossier_code": minted.row.dossier_code,
        "created": minted.created, "used": minted.row.used_at is not None,
        "expires_at": minted.expires_at.isoformat(),
        "qr_svg": svg, "qr_png_base64": base64.b64encode(png).decode("ascii"),
    }), status
