"""Vietnamese first, English second: every UI string has a translation; formats are Vietnamese."""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from survey.i18n import english, format_date, format_number, format_pct

ROOT = Path(__file__).resolve().parent.parent
CALL = re.compile(r"""\bN?_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def source_strings() -> dict[str, str]:
    """Every literal passed to _() in the app's code and templates, with where it was found."""
    found: dict[str, str] = {}
    files = list((ROOT / "survey").rglob("*.py")) + list((ROOT / "templates").rglob("*.html"))
    for path in files:
        for m in CALL.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(m.group(1) or m.group(2), str(path.relative_to(ROOT)))
    return found


def test_every_ui_string_has_an_english_translation():
    strings = source_strings()
    assert len(strings) > 30, "the extractor found the app's strings"
    missing = {s: where for s, where in strings.items() if s not in english()}
    assert not missing, "add these to survey/translations/*.yaml:\n" + "\n".join(f"{w}: {s}" for s, w in missing.items())


def test_translations_keep_placeholders():
    for vi, en in english().items():
        assert set(re.findall(r"{\w+}", vi)) == set(re.findall(r"{\w+}", en)), vi


def test_source_strings_are_vietnamese_with_diacritics():
    accented = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I)
    plain = [s for s in source_strings() if len(s.split()) > 2 and not accented.search(s)]
    assert not plain, f"source strings must be Vietnamese: {plain}"


def test_vietnamese_number_and_date_formats():
    assert format_pct(92.5) == "92,5%"
    assert format_pct(100) == "100,0%"
    assert format_number(1234567, 0) == "1.234.567"
    assert format_number(84.451, 2) == "84,45"
    assert format_date(date(2026, 11, 21)) == "21/11/2026"
    assert format_date(datetime(2026, 1, 2, 9, 30)) == "02/01/2026"
    assert format_pct(None) == "–"
