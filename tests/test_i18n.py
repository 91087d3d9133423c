"""Vietnamese first, English second: the gettext catalogue covers every marked string (as
pybabel extracts them), the compiled catalogue is current and read once, formats are Vietnamese."""
from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from pathlib import Path

import flask_babel
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from markupsafe import escape
from werkzeug.datastructures import MultiDict

from questionnaires.loader import load_file
import survey.i18n as i18n
from survey.i18n import catalogue_path, format_date, format_number, format_pct, gettext, lazy_gettext, ngettext
from tests.formdata import answers_for, post_body

ROOT = Path(__file__).resolve().parent.parent
PO = catalogue_path("en")
FIX = "run `make translations`, then fill in the empty msgstr entries of " + str(PO.relative_to(ROOT))
PLACEHOLDER = re.compile(r"{(\w+)}")
SIPAS = load_file(ROOT / "questionnaires" / "sipas-2017.yaml")


def keywords() -> dict:
    """The Makefile's BABEL_KEYWORDS (babel's defaults only if it keeps them), so this sees what pybabel sees."""
    line = re.search(r"^BABEL_KEYWORDS\s*:?=(.*)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert line, "Makefile defines BABEL_KEYWORDS"
    defaults = {} if "--no-default-keywords" in line.group(1) else DEFAULT_KEYWORDS
    return {**defaults, **parse_keywords(re.findall(r"-k\s*(\S+)", line.group(1)))}


@cache
def extracted() -> dict[str, str]:
    """Every marked string in survey/ and templates/ (msgid → first file), extracted by babel
    with babel.cfg, as `make translations` does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    found: dict[str, str] = {}
    for folder in ("survey", "templates"):
        for filename, _line, message, _comments, _context in extract_from_dir(
                ROOT / folder, method_map, options_map, keywords=keywords()):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, f"{folder}/{filename}")
    return found


def catalogue() -> Catalog:
    with PO.open("rb") as po:
        return read_po(po, locale="en")


def forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def test_every_marked_string_has_an_english_translation():
    strings, po = extracted(), catalogue()
    assert len(strings) > 30, "the extractor found the app's strings"
    missing = {s: where for s, where in strings.items() if s not in po or not all(forms(po[s]))}
    assert not missing, f"no English for these ({FIX}):\n" + "\n".join(f"{w}: {s}" for s, w in missing.items())


def test_translations_keep_placeholders():
    for message in catalogue():
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        expected = {p for i in ids for p in PLACEHOLDER.findall(i)}
        for english in forms(message):
            used = set(PLACEHOLDER.findall(english))
            # an English singular may spell the count out ("one answer"); nothing else may go
            assert used == expected or (message.pluralizable and used == expected - {"n"}), (message.id, english)
        if expected:
            assert "python-brace-format" in message.flags, f"{message.id}: Poedit/Weblate check placeholders by this flag"


def test_catalogue_has_no_fuzzy_obsolete_or_unused_entries():
    po, strings = catalogue(), extracted()
    assert not po.fuzzy, "the header is marked fuzzy: pybabel compile would skip the whole catalogue"
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries are not compiled, so these show in Vietnamese; review them and drop the flag: {fuzzy}"
    assert not po.obsolete, f"obsolete (#~) entries: {list(po.obsolete)}; `make translations` drops them"
    unused = [m.id for m in po if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in strings]
    assert not unused, f"no longer in the code: {unused}; `make translations` drops them"


def test_compiled_catalogue_is_current():
    """The .mo is committed (so flask and gunicorn work from a clean clone): it must say what the .po says."""
    def plain(value):  # a plural entry's id and forms come as a list from read_mo, a tuple from read_po
        return tuple(value) if isinstance(value, (list, tuple)) else value

    with catalogue_path("en", ".mo").open("rb") as mo:
        compiled = {plain(m.id): plain(m.string) for m in read_mo(mo) if m.id}
    source = {plain(m.id): plain(m.string) for m in catalogue() if m.id and all(forms(m)) and not m.fuzzy}
    assert compiled == source, f"{catalogue_path('en', '.mo').relative_to(ROOT)} is out of date: run `make translations`"


def test_source_strings_are_vietnamese_with_diacritics():
    accented = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I)
    plain = [s for s in extracted() if len(s.split()) > 2 and not accented.search(s)]
    assert not plain, f"source strings must be Vietnamese: {plain}"


def test_vietnamese_number_and_date_formats():
    assert format_pct(92.5) == "92,5%"
    assert format_pct(100) == "100,0%"
    assert format_number(1234567, 0) == "1.234.567"
    assert format_number(84.451, 2) == "84,45"
    assert format_date(date(2026, 11, 21)) == "21/11/2026"
    assert format_date(datetime(2026, 1, 2, 9, 30)) == "02/01/2026"
    assert format_pct(None) == "–"


def test_english_formats_stay_vietnamese(app):
    with app.test_request_context("/?lang=en"):
        assert format_pct(92.5) == "92,5%" and format_date(date(2026, 11, 21)) == "21/11/2026"


def test_english_page_shows_english(client):
    resp = client.get("/q/sipas-2017?lang=en")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Content-Language"] == "en"
    assert '<html lang="en">' in html
    assert ">Send</button>" in html and "Questions marked * are required." in html
    assert "Gửi phiếu" not in html and "Các câu có dấu * là bắt buộc." not in html
    vietnamese = client.get("/q/sipas-2017?lang=vi").get_data(as_text=True)
    assert ">Gửi phiếu</button>" in vietnamese and ">Send</button>" not in vietnamese


def test_english_error_page(client):
    resp = client.get("/q/no-such-survey?lang=en")
    assert resp.status_code == 404 and "Page not found" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("url", "method", "data", "cookie", "expected"), [
    ("/", "GET", None, None, "vi"),
    ("/?lang=en", "GET", None, None, "en"),
    ("/?lang=fr", "GET", None, None, "vi"),
    ("/", "GET", None, "en", "en"),
    ("/?lang=vi", "GET", None, "en", "vi"),
    ("/", "POST", {"lang": "en"}, None, "en"),
])
def test_locale_rules_are_flask_babels(app, url, method, data, cookie, expected):
    headers = {"Cookie": f"lang={cookie}"} if cookie else {}
    with app.test_request_context(url, method=method, data=data, headers=headers):
        assert i18n.get_locale() == expected
        assert str(flask_babel.get_locale()) == expected


def test_lazy_strings_follow_the_request_showing_them(app):
    label = lazy_gettext("Gửi phiếu")  # defined once, like a form label at import time
    field = lazy_gettext("Lĩnh vực: {name}", name="<b>đất đai</b>")
    with app.test_request_context("/"):
        assert str(label) == "Gửi phiếu"
    with app.test_request_context("/?lang=en"):
        assert str(label) == "Send"
        assert str(escape(field)) == "Field: &lt;b&gt;đất đai&lt;/b&gt;", "a lazy string is escaped in HTML"


def test_placeholders_and_plurals(app):
    with app.test_request_context("/?lang=en"):
        assert gettext("Từ {min} đến {max}", min=1, max=5) == "From 1 to 5"
        # not in the catalogue: English falls back to the source, with English plural rules
        assert ngettext("{n} phiếu", "{n} phiếu nữa", 1) == "1 phiếu"
        assert ngettext("{n} phiếu", "{n} phiếu nữa", 3) == "3 phiếu nữa"
    with app.test_request_context("/"):
        assert ngettext("{n} phiếu", "{n} phiếu nữa", 3) == "3 phiếu nữa"
    assert gettext("Gửi phiếu") == "Gửi phiếu", "outside a request: Vietnamese"


def test_catalogue_is_read_once_per_process_not_per_request(client, get_form, monkeypatch):
    reads: list[str] = []
    real_init, real_load = Translations.__init__, Translations.load.__func__

    def counting_init(self, *args, **kwargs):
        reads.append("init")
        real_init(self, *args, **kwargs)

    def counting_load(cls, *args, **kwargs):
        reads.append("load")
        return real_load(cls, *args, **kwargs)

    monkeypatch.setattr(Translations, "__init__", counting_init)
    monkeypatch.setattr(Translations, "load", classmethod(counting_load))
    form = get_form("/q/sipas-2017?lang=en")
    answers = answers_for(SIPAS)
    del answers["overall"]
    resp = client.post("/q/sipas-2017", data=MultiDict(post_body(form.hidden, answers)))
    assert resp.status_code == 422 and "Please choose an answer." in resp.get_data(as_text=True)
    client.get("/q/no-such-survey?lang=en")
    assert reads == [], "the app read a catalogue while serving requests (it reads each once, at start)"


def test_a_missing_compiled_catalogue_stops_the_app(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "CATALOGUE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="make translations"):
            i18n.translations("en")
    finally:
        monkeypatch.undo()
        i18n.translations.cache_clear()
    assert i18n.translations("en").gettext("Gửi phiếu") == "Send"
