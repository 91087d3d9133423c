"""Vietnamese first, English second: gettext catalogues on Flask-Babel.

Source strings are Vietnamese, written in code and templates inside `_()` with `{name}`
placeholders (str.format, so translators see names, not %s). English comes from the gettext
catalogue translations/en/LC_MESSAGES/messages.po, compiled to messages.mo; both are committed,
so the app works however it is started (`make translations` extracts, merges and compiles;
README § Translations). Each compiled catalogue is read once per process, when the app is
created, and a lookup is one dict access; Vietnamese, the source, needs no catalogue, so the
default path never looks one up. Flask-Babel is the extension the rest of Flask sees: it asks
`get_locale` for the request's language (flask_babel.get_locale()). `_()` reads the same
catalogue directly, so it also works outside an app (pure functions under test, CLI).
Numbers and dates use Babel's Vietnamese locale (92,5% · 21/11/2026) in both languages, as
officials expect.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlencode

from babel.numbers import format_decimal
from babel.support import Translations
from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, LazyString
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

LANGUAGES = ("vi", "en")
SOURCE = "vi"
COOKIE = "lang"
DOMAIN = "messages"
CATALOGUE_DIR = Path(__file__).resolve().parent / "translations"


def catalogue_path(locale: str, suffix: str = ".po") -> Path:
    """Where a language's catalogue lives (.po for translators, .mo for the app)."""
    return CATALOGUE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@cache
def translations(locale: str) -> Translations:
    """A language's compiled catalogue, read once per process; a missing file is an error, not
    a page silently left in Vietnamese."""
    path = catalogue_path(locale, ".mo")
    try:
        with path.open("rb") as mo:
            return Translations(mo, domain=DOMAIN)
    except FileNotFoundError:
        raise RuntimeError(f"{path} is missing: run `make translations` (it compiles the .po)") from None


_OUTSIDE_REQUEST: ContextVar[str] = ContextVar("locale_outside_request", default=SOURCE)


@contextmanager
def outside_request(locale: str) -> Iterator[None]:
    """`_()` outside a request speaks `locale` within the block (a CLI command in the shell's
    language); everywhere else outside a request it stays Vietnamese, the source."""
    token = _OUTSIDE_REQUEST.set(locale if locale in LANGUAGES else SOURCE)
    try:
        yield
    finally:
        _OUTSIDE_REQUEST.reset(token)


def get_locale() -> str:
    if not has_request_context():
        return _OUTSIDE_REQUEST.get()
    if "locale" not in g:
        asked = request.args.get("lang") or _posted_lang() or request.cookies.get(COOKIE)
        g.locale = asked if asked in LANGUAGES else SOURCE
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
    locale = get_locale()
    if locale != SOURCE:
        text = translations(locale).gettext(text)
    return text.format(**values) if values else text


_ = gettext


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    """gettext for a count: English picks its singular or plural form; {n} is filled in.
    Vietnamese has one form, so the source passes the same text twice."""
    locale = get_locale()
    text = (singular if n == 1 else plural) if locale == SOURCE else translations(locale).ngettext(singular, plural, n)
    return text.format(n=n, **values)


class LazyText(LazyString):
    """Flask-Babel's lazy string, escaped when put into HTML (Flask-Babel's own marks itself
    safe, which would let a placeholder's value through unescaped)."""

    def __html__(self) -> Markup:
        return escape(str(self))


def lazy_gettext(text: str, **values: object) -> LazyText:
    """A string defined at import time (form labels, module constants), translated each time
    it is shown, in the language of the request showing it."""
    return LazyText(gettext, text, **values)


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


VIETNAM = timezone(timedelta(hours=7), "ICT")


def format_time(value: datetime | None) -> str:
    """An instant as people in Vietnam read it: '10:32 30/11/2026' (UTC+7, no daylight saving)."""
    if value is None:
        return "–"
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")


def language_url(lang: str) -> str:
    """This page in another language: the same path and query, with `lang` replaced.

    Built from the request as it came, not through url_for, which treats some query names
    (`_method`, `_external`, …) as its own arguments and raised on them.
    """
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"] + [("lang", lang)]
    return quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~") + "?" + urlencode(query)


def init_app(app: Flask) -> None:
    for locale in LANGUAGES:
        if locale != SOURCE:
            translations(locale)  # read now, once, and refuse to start without it
    # configure_jinja=False: templates use our `_` ({name} placeholders), not Jinja's i18n
    # extension (%(name)s); a {% trans %} block is therefore a template error, not a silent mix.
    Babel(app, configure_jinja=False, default_locale=SOURCE, default_domain=DOMAIN,
          default_translation_directories=str(CATALOGUE_DIR), locale_selector=get_locale)
    # Flask-WTF would otherwise load WTForms' own catalogue on every request that shows one of
    # its messages; it has no Vietnamese, and our forms' messages are our own strings.
    app.config.setdefault("WTF_I18N_ENABLED", False)
    app.jinja_env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext,
                                 get_locale=get_locale, LANGUAGES=LANGUAGES, language_url=language_url)
    app.jinja_env.filters.update(pct=format_pct, num=format_number, vdate=format_date, vtime=format_time)

    @app.after_request
    def remember_language(response: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
            response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                                secure=request.is_secure)
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Language", get_locale())
        return response
