"""Vietnamese first, English second.

Source strings are written in Vietnamese in code and templates (wrapped in `_()`); English comes
from small YAML catalogues in survey/translations/, one per area of the app, so no
compile step is needed and each area owns its file. A test checks that every `_()`
string has an English entry. Numbers and dates use Babel's Vietnamese locale
(92,5% · 21/11/2026) in both languages, as officials expect.
"""
from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path

import yaml
from babel.numbers import format_decimal
from flask import Flask, Response, g, has_request_context, request
from werkzeug.exceptions import HTTPException

LANGUAGES = ("vi", "en")
COOKIE = "lang"
CATALOGUE_DIR = Path(__file__).resolve().parent / "translations"


@cache
def english() -> dict[str, str]:
    """vi → en, merged from every catalogue file; a key defined twice differently is a bug."""
    merged: dict[str, str] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.yaml")):
        for vi, en in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if vi in merged and merged[vi] != en:
                raise ValueError(f"{path.name}: '{vi}' already translated differently")
            merged[vi] = en
    return merged


def get_locale() -> str:
    if not has_request_context():
        return "vi"
    if "locale" not in g:
        asked = request.args.get("lang") or _posted_lang() or request.cookies.get(COOKIE)
        g.locale = asked if asked in LANGUAGES else "vi"
    return g.locale


def _posted_lang() -> str | None:
    """The form's hidden `lang` (keeps the language without cookies); never raises, because
    error pages (e.g. 413 for an oversized body) ask for the language too."""
    if request.method != "POST":
        return None
    try:
        return request.form.get("lang")
    except HTTPException:
        return None


def gettext(text: str, **values: object) -> str:
    """Translate a Vietnamese source string to the request's language, then fill {placeholders}."""
    if get_locale() == "en":
        text = english().get(text, text)
    return text.format(**values) if values else text


_ = gettext


def N_(text: str) -> str:
    """Mark a string for translation where it is defined; it is translated where it is shown."""
    return text


def format_number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale="vi")


def format_pct(value: float | None, digits: int = 1) -> str:
    """92.5 → '92,5%' (value already in percent)."""
    return "–" if value is None else f"{format_number(value, digits)}%"


def format_date(value: date | datetime | None) -> str:
    return "–" if value is None else value.strftime("%d/%m/%Y")


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=gettext, get_locale=get_locale, LANGUAGES=LANGUAGES)
    app.jinja_env.filters.update(pct=format_pct, num=format_number, vdate=format_date)

    @app.after_request
    def remember_language(response: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
            response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Language", get_locale())
        return response
