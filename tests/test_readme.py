"""The README runs as written on a fresh clone (#11 item 11): it says how to reach `flask`
(the virtualenv) before its first command, and points at nothing outside the repository."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_virtualenv_is_explained_before_the_first_flask_command():
    first_command = README.index("flask --app wsgi")
    activate = README.index(". .venv/bin/activate")
    assert activate < README.index("## The citizen form") and activate < first_command + 400
    quick_start = README[README.index("## Quick start"):README.index("## The citizen form")]
    assert ".venv/bin/flask" in quick_start and ". .venv/bin/activate" in quick_start


def test_no_link_or_path_leaves_the_repository():
    assert "../" not in README and "/work/" not in README and "DOMAIN.md" not in README
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
    assert (ROOT / "docs" / "domain.md").read_text(encoding="utf-8").count("## 5. Targets") == 1
