"""Per-dossier links: the offline HMAC scheme, single use, expiry, forgery, batch minting."""
from __future__ import annotations

import csv
import os
import stat
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from survey.db import get_session
from survey.models import DossierToken, Unit, UnitCredential
from survey.qr import credentials, dossiers
from tests.conftest import FormPage
from tests.formdata import answers_for, post_body
from tests.qrkit import BASE, QUICK, decode_png, offline_link, path_of, place, responses, submit, tag_lines  # noqa: F401


@pytest.fixture(autouse=True)
def english_cli(monkeypatch):
    """These tests read the CLI's English (it speaks Vietnamese unless the locale says English);
    tests/commands/test_cli_language.py reads the Vietnamese."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")

TODAY = datetime.now(UTC).date()


def link(place, dossier="H33.25-000123", field="", procedure="ht-khai-sinh", completed=TODAY) -> str:
    return offline_link(place.key_id, place.secret, dossier, field, procedure, completed)


def test_offline_link_computed_as_documented_opens_the_tagged_form_and_counts_once(app, client, place):
    url = link(place)
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert tag_lines(html) == ["Phường Phố Hiến", "Lĩnh vực: Tư pháp – Hộ tịch", "Thủ tục: Đăng ký khai sinh",
                               "Hồ sơ số: H33.25-000123"]
    resp = submit(client, url)
    assert resp.status_code == 303
    [stored] = responses(app)
    assert (stored.channel, stored.unit_id, stored.counter_id, stored.field_id, stored.procedure_id) == (
        "dossier", place.commune_id, None, place.field_ids["tu-phap-ho-tich"], place.procedure_ids["ht-khai-sinh"])
    again = client.get(url)
    assert again.status_code == 409
    assert "Hồ sơ này đã được đánh giá" in again.get_data(as_text=True)
    with app.app_context():
        token = get_session().scalar(select(DossierToken))
        assert token.used_at is not None and token.dossier_code == "H33.25-000123"


def test_the_documented_scheme_matches_the_server_signer(place):
    data = dossiers.LinkData(place.key_id, "HS/01 ư", "dat-dai", "", date(2026, 1, 31))
    assert f"/d/{dossiers.sign(data, place.secret)}" == offline_link(place.key_id, place.secret, "HS/01 ư", "dat-dai", "",
                                                                     date(2026, 1, 31))


def test_changing_any_single_character_is_refused(app, client, place):
    url = link(place)
    token = url.removeprefix("/d/")
    for i in range(0, len(token), 3):
        ch = token[i]
        forged = token[:i] + ("B" if ch != "B" else "C") + token[i + 1:]
        resp = client.get(f"/d/{forged}")
        assert resp.status_code == 404, (i, forged)
        assert "Phường Phố Hiến" not in resp.get_data(as_text=True)  # never reveals the unit
    assert client.get(url).status_code == 200  # the original still works


@pytest.mark.parametrize("token", [
    "abc", "x" * 500, "AAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA", "!!!!!!!!!!!!!!!!.AAAAAAAAAAAAAAAA",
    "MXxhYmN8ZGVm.AAAAAAAAAAAAAAAA", "_-_-_-_-_-_-_-_-_-.________________",
])
def test_malformed_tokens_are_404_never_500(client, place, token):
    assert client.get(f"/d/{token}").status_code == 404


def test_signed_link_with_an_unstorable_dossier_code_is_refused(client, place):
    assert client.get(link(place, dossier="x" * 65)).status_code == 404
    assert client.get(link(place, dossier=" ")).status_code == 404


def test_wrong_secret_unknown_key_and_revoked_key_are_refused(app, client, place):
    assert client.get(offline_link(place.key_id, "not-the-secret", "D1", "", "", TODAY)).status_code == 404
    assert client.get(offline_link("nokey123", place.secret, "D1", "", "", TODAY)).status_code == 404
    url = link(place, dossier="D2")
    assert client.get(url).status_code == 200
    with app.app_context():
        session = get_session()
        session.scalar(select(UnitCredential).filter_by(key_id=place.key_id)).revoked_at = datetime.now(UTC)
        session.commit()
    assert client.get(url).status_code == 404


def test_expired_link_has_its_own_page(app, client, place):
    days = app.config["DOSSIER_LINK_DAYS"]
    assert days == 30
    old = link(place, completed=TODAY - timedelta(days=days + 2))
    resp = client.get(old)
    assert resp.status_code == 410
    assert "Đường dẫn đánh giá đã hết hạn" in resp.get_data(as_text=True)
    assert client.get(link(place, dossier="fresh", completed=TODAY - timedelta(days=days - 2))).status_code == 200


def test_window_is_configurable(app, client, place):
    app.config["DOSSIER_LINK_DAYS"] = 3
    assert client.get(link(place, completed=TODAY - timedelta(days=5))).status_code == 410


def test_expired_page_in_english(client, place):
    resp = client.get(link(place, completed=TODAY - timedelta(days=90)) + "?lang=en")
    assert resp.status_code == 410 and "This evaluation link has expired" in resp.get_data(as_text=True)


def test_two_forms_open_for_one_dossier_count_once(app, client, place):
    url = link(place)
    first = FormPage(client.get(url).get_data(as_text=True))
    second = FormPage(client.get(url).get_data(as_text=True))
    assert first.hidden["submission_id"] != second.hidden["submission_id"]
    ok = client.post(url, data=MultiDict(post_body(first.hidden, answers_for(QUICK))))
    assert ok.status_code == 303
    late = client.post(url, data=MultiDict(post_body(second.hidden, answers_for(QUICK))))
    assert late.status_code == 409 and "đã được đánh giá" in late.get_data(as_text=True)
    # A double tap re-sends the first form: it lands on the thanks page, still one response.
    retry = client.post(url, data=MultiDict(post_body(first.hidden, answers_for(QUICK))))
    assert retry.status_code == 303 and retry.headers["Location"].endswith("/cam-on")
    assert len(responses(app)) == 1


def test_simultaneous_submits_store_exactly_one_response(app, place):
    url = link(place, dossier="RACE-1")
    clients = [app.test_client() for _ in range(4)]
    forms = [FormPage(c.get(url).get_data(as_text=True)) for c in clients]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def post(c, form):
        barrier.wait()
        statuses.append(c.post(url, data=MultiDict(post_body(form.hidden, answers_for(QUICK)))).status_code)

    threads = [threading.Thread(target=post, args=(c, f)) for c, f in zip(clients, forms)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [303, 409, 409, 409]
    assert len(responses(app)) == 1


def test_mint_is_idempotent_and_same_as_offline(app, place):
    with app.app_context():
        session = get_session()
        credential = credentials.by_key_id(session, place.key_id)
        a = dossiers.mint(session, credential, "HS-9", None, "ht-khai-sinh", TODAY.isoformat(), 30)
        b = dossiers.mint(session, credential, "HS-9", "tu-phap-ho-tich", "ht-khai-sinh", TODAY, 30)
        session.commit()
        assert (a.created, b.created) == (True, False)
        assert a.token == b.token
        assert f"/d/{a.token}" == offline_link(place.key_id, place.secret, "HS-9", "", "ht-khai-sinh", TODAY)
        with pytest.raises(dossiers.MintConflict):
            dossiers.mint(session, credential, "HS-9", None, "ht-ket-hon", TODAY, 30)


def test_offline_link_for_a_minted_dossier_shares_its_single_use(app, client, place):
    """The one-stop software may print an offline link for a dossier the API also minted: one answer in all."""
    with app.app_context():
        session = get_session()
        minted = dossiers.mint(session, credentials.by_key_id(session, place.key_id), "HS-7", "", "", TODAY, 30)
        session.commit()
    assert submit(client, f"/d/{minted.token}").status_code == 303
    other = offline_link(place.key_id, place.secret, "HS-7", "dat-dai", "", TODAY)
    assert client.get(other).status_code == 409


def test_unknown_codes_in_a_signed_link_are_refused_not_misfiled(app, client, place):
    """Storing the answer with its field silently dropped would misfile it in every report by field."""
    url = offline_link(place.key_id, place.secret, "HS-X", "khong-co", "cung-khong-co", TODAY)
    assert client.get(url).status_code == 404
    assert responses(app) == []


def test_inactive_unit_links_are_refused(app, client, place):
    with app.app_context():
        session = get_session()
        session.get(Unit, place.commune_id).active = False
        session.commit()
    assert client.get(link(place)).status_code == 404


def _write(path, lines: list[str]) -> None:
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")  # Excel's BOM


def test_batch_csv_mints_good_rows_and_reports_every_bad_one(app, client, runner, place, tmp_path):
    src, out = tmp_path / "dossiers.csv", tmp_path / "links.csv"
    today = TODAY.isoformat()
    _write(src, [
        "dossier_code,unit_code,field,procedure,completed_on",
        f"HS-1,11953,,ht-khai-sinh,{today}",                      # line 2 ok
        f"HS-2,11953,dat-dai,,{TODAY:%d/%m/%Y}",                   # line 3 ok (Vietnamese date)
        f"HS-3,99999,,,{today}",                                   # line 4 unknown unit
        "HS-4,11953,,,31/02/2026",                                 # line 5 bad date
        f"HS-5,11953,khong-co,,{today}",                           # line 6 unknown field
        f"HS-6,11953,dat-dai,ht-khai-sinh,{today}",                # line 7 procedure not in field
        f"HS-7,33,,,{today}",                                      # line 8 unit without credentials
        f"HS-1,11953,,ht-khai-sinh,{today}",                       # line 9 same dossier again: same link
        f",11953,,,{today}",                                       # line 10 no dossier code
        f"HS-8,11953,,,{(TODAY - timedelta(days=60)).isoformat()}",  # line 11 already expired
    ])
    result = runner.invoke(args=["qr", "dossiers", str(src), "--out", str(out), "--base", BASE])
    assert result.exit_code == 1, result.output
    failed = {int(line.split(":")[0].split()[1]): line for line in result.output.splitlines() if line.startswith("line ")}
    assert sorted(failed) == [4, 5, 6, 7, 8, 10, 11]
    assert "unknown unit_code '99999'" in failed[4]
    assert "not a date" in failed[5]
    assert "unknown field code 'khong-co'" in failed[6]
    assert "not in field" in failed[7]
    assert "no credentials" in failed[8]
    assert "dossier_code" in failed[10]
    assert "expired" in failed[11]
    assert "3 dossiers processed (2 new, 0 updated, 1 unchanged); 7 rows failed" in result.output
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["dossier_code"], r["status"]) for r in rows] == [("2", "HS-1", "new"), ("3", "HS-2", "new"),
                                                                            ("9", "HS-1", "existing")]
    assert rows[0]["url"] == rows[2]["url"] == BASE + link(place, dossier="HS-1")
    # Vietnam time with its offset (#11 item 17): valid through the last day, ending at midnight in Hà Nội
    assert all(r["expires_at"].endswith("T00:00:00+07:00") for r in rows), rows[0]["expires_at"]
    assert submit(client, path_of(rows[1]["url"])).status_code == 303
    [stored] = responses(app)
    assert stored.field_id == place.field_ids["dat-dai"]


def test_batch_reads_xlsx(app, runner, place, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Dossier_Code", "unit_code", "field", "procedure", "completed_on"])
    sheet.append(["HS-X1", "11953", "dat-dai", None, datetime.combine(TODAY, datetime.min.time())])
    sheet.append(["HS-X2", "11953", "dat-dai", None, "hôm qua"])
    src = tmp_path / "d.xlsx"
    book.save(src)
    result = runner.invoke(args=["qr", "dossiers", str(src), "--out", str(tmp_path / "o.csv"), "--base", BASE])
    assert result.exit_code == 1
    assert "line 3: completed_on" in result.output and "1 dossiers processed" in result.output


def test_batch_without_base_url_says_how_to_set_it(app, runner, place, tmp_path):
    src = tmp_path / "d.csv"
    _write(src, ["dossier_code,unit_code,completed_on", f"A,11953,{TODAY}"])
    result = runner.invoke(args=["qr", "dossiers", str(src), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code != 0 and "SURVEY_PUBLIC_BASE_URL" in result.output


def test_batch_file_missing_columns_is_refused_whole(app, runner, place, tmp_path):
    src = tmp_path / "d.csv"
    _write(src, ["dossier,unit", "A,11953"])
    result = runner.invoke(args=["qr", "dossiers", str(src), "--out", str(tmp_path / "o.csv"), "--base", BASE])
    assert result.exit_code != 0 and "missing column(s) dossier_code, unit_code, completed_on" in result.output


def test_expires_at_is_end_of_day_in_vietnam():
    assert dossiers.expires_at(date(2026, 1, 1), 30) == datetime(2026, 1, 31, 17, 0, tzinfo=UTC)


def test_decoded_png_link_from_mint_reaches_the_form(app, client, place):
    from survey.qr import codes

    with app.app_context():
        session = get_session()
        minted = dossiers.mint(session, credentials.by_key_id(session, place.key_id), "HS-QR", "", "ht-ket-hon", TODAY, 30)
        session.commit()
        url = codes.dossier_url(minted.token, BASE)
    [decoded] = decode_png(codes.qr_png(url))
    assert decoded == url
    assert "Thủ tục: Đăng ký kết hôn" in tag_lines(client.get(path_of(decoded)).get_data(as_text=True))


# ---------------------------------------------------------------- one canonical form (issue #9, item 10)


def test_only_the_exact_canonical_token_validates(client, place):
    url = link(place, dossier="CANON-1")
    assert client.get(url).status_code == 200
    token = url.removeprefix("/d/")
    for suffix in ("\n", "\r\n", " ", "\x00"):
        with pytest.raises(dossiers.InvalidLink):
            dossiers.parse(token + suffix)
    for suffix in ("%0A", "%0D%0A", "%20", "%00"):
        assert client.get(url + suffix).status_code in (400, 404), suffix  # refused, whichever layer sees it first


def _raw_link(place, date_text: str, dossier: str = "D-DATE") -> str:
    """A correctly signed link whose date field is written as given (what a careless offline signer sends)."""
    message = f"1|{place.key_id}|{dossier}||ht-khai-sinh|{date_text}"
    payload = dossiers._b64(message.encode())
    return f"/d/{payload}.{dossiers._signature(payload, place.secret)}"


def test_far_future_completion_dates_are_refused_never_a_500(client, place):
    tomorrow = TODAY + timedelta(days=1)
    assert client.get(_raw_link(place, f"{tomorrow:%Y%m%d}", "D-TOMORROW")).status_code == 200  # clocks differ a little
    for text in (f"{TODAY + timedelta(days=3):%Y%m%d}", "20991231", "99991231"):
        assert client.get(_raw_link(place, text)).status_code == 404, text


@pytest.mark.parametrize("text", [f"{TODAY:%Y%m}1", "２０２６１１２０", "2026-1120", "+2026112"])
def test_non_canonical_dates_in_a_signed_link_are_refused(client, place, text):
    assert client.get(_raw_link(place, text)).status_code == 404


@pytest.mark.parametrize("code", ["HS\u202e-0001", "HS\u200b0001", "HS\u20280001", "HS\u00ad01", "HS\x7f01", "\ufeffHS-1"])
def test_invisible_and_control_characters_in_dossier_codes_are_refused(app, client, place, code):
    with pytest.raises(dossiers.MintError, match="ký tự điều khiển hay ký tự ẩn") as caught:
        dossiers.check_dossier_code(code)  # Vietnamese first: the frame import and `qr dossiers` say it to people
    assert caught.value.field == "dossier_code"
    assert client.get(link(place, dossier=code)).status_code == 404  # a signed link carrying one too
    resp = client.post("/api/v1/dossier-links", json={"dossier_code": code, "procedure": "ht-khai-sinh",
                                                      "completed_on": TODAY.isoformat()},
                       headers={"Authorization": f"Bearer {place.api_key}"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "dossier_code"
    assert "U+" in resp.get_json()["message"] and "must not contain control or invisible" in resp.get_json()["message"]


def test_a_signed_code_with_surrounding_spaces_is_not_another_spelling(client, place):
    assert client.get(link(place, dossier="HS-SP")).status_code == 200
    assert client.get(link(place, dossier=" HS-SP")).status_code == 404


def test_vietnamese_and_punctuated_codes_still_pass():
    assert dossiers.check_dossier_code("HS/01 ư-Đ.2026") == "HS/01 ư-Đ.2026"


def test_link_csv_is_private_and_formula_safe(app, runner, place, tmp_path):
    """The CSV holds live links (anyone who reads it can answer for those dossiers): created 0600,
    even over an older, wider file; a dossier code that Excel would run as a formula is neutralised."""
    src = tmp_path / "d.csv"
    _write(src, ["dossier_code,unit_code,completed_on", f'"=HYPERLINK(""http://x"",""y"")",11953,{TODAY}',
                 f"@SUM(1),11953,{TODAY}", f"-12,11953,{TODAY}"])
    out = tmp_path / "links.csv"
    out.write_text("older export")
    out.chmod(0o644)
    old = os.umask(0o022)
    try:
        result = runner.invoke(args=["qr", "dossiers", str(src), "--out", str(out), "--base", BASE])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["dossier_code"] for r in rows] == ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(1)", "-12"]
    assert all(r["url"].startswith(BASE + "/d/") for r in rows)
