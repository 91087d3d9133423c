"""The draw's downloads (fieldwork list, letters, paper forms): what their shared preamble promises:
no public base URL is a 503 that says so, an unknown respondent a 404, more than a web download
prints a 422 naming the CLI command, and each file is named after the draw (and its one respondent)."""
from __future__ import annotations

import pytest

from survey.sampling import letters
from tests.sampling.conftest import sample_draws  # noqa: F401  (fixture)


def disposition(resp) -> str:
    return resp.headers["Content-Disposition"]


def test_files_are_named_after_the_draw_and_the_one_respondent(tree, as_role, sample_draws):  # noqa: F811
    c, draw_id = as_role("coordinator"), tree.ids["draw_a"]
    code = f"M{draw_id}-000002"
    one = c.get(f"/staff/sampling/draws/{draw_id}/letters.pdf?size=a5&code={code}")
    assert one.status_code == 200 and disposition(one) == f"attachment; filename=thu-moi-{draw_id}-{code}-A5.pdf"
    form = c.get(f"/staff/sampling/draws/{draw_id}/paper-forms.pdf?code={code}")
    assert form.status_code == 200 and disposition(form) == f"attachment; filename=phieu-giay-{draw_id}-{code}.pdf"
    listing = c.get(f"/staff/sampling/draws/{draw_id}/export?format=csv")
    assert listing.status_code == 200 and disposition(listing) == f"attachment; filename=mau-{draw_id}.csv"


@pytest.mark.parametrize("path", ["letters.pdf", "paper-forms.pdf"])
def test_an_unknown_respondent_is_a_404_naming_the_code(tree, as_role, sample_draws, path):  # noqa: F811
    resp = as_role("coordinator").get(f"/staff/sampling/draws/{tree.ids['draw_a']}/{path}?code=M0-000009")
    assert resp.status_code == 404 and "M0-000009" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("path", "says"), [("letters.pdf", "thư mời; mỗi lần tải trên web tối đa 3 thư"),
                                            ("paper-forms.pdf", "người; mỗi lần tải trên web tối đa 3 phiếu")])
def test_more_than_a_web_download_prints_is_a_422_naming_the_command(tree, as_role, sample_draws, monkeypatch,  # noqa: F811
                                                                     path, says):
    monkeypatch.setattr(letters, "SYNC_LIMIT", 3)
    draw_id = tree.ids["draw_a"]
    resp = as_role("coordinator").get(f"/staff/sampling/draws/{draw_id}/{path}")
    html = resp.get_data(as_text=True)
    command = "letters" if path == "letters.pdf" else "paper-forms"
    assert resp.status_code == 422 and f"Lần rút có 5 {says}" in html and f"sample {command} {draw_id} --out" in html
    english = as_role("coordinator").get(f"/staff/sampling/draws/{draw_id}/{path}?lang=en")
    assert english.status_code == 422 and "5" in english.get_data(as_text=True) and "Lần rút" not in english.get_data(as_text=True)


@pytest.mark.parametrize("path", ["letters.pdf", "export?format=csv"])
def test_links_without_a_public_base_url_are_a_503_that_says_so(app, tree, as_role, sample_draws, monkeypatch,  # noqa: F811
                                                                 path):
    c = as_role("coordinator")
    monkeypatch.setitem(app.config, "TESTING", False)  # tests otherwise fall back to the request's host
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", None)
    resp = c.get(f"/staff/sampling/draws/{tree.ids['draw_a']}/{path}")
    assert resp.status_code == 503 and "SURVEY_PUBLIC_BASE_URL" in resp.get_data(as_text=True)
