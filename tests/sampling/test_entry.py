"""Paper entry, double entry, phúc tra and phone interviews (issue #15 items 5–6): what is
stored (channel, sample tags, who keyed it; never the respondent code), each bad input, and the
re-check subsample against an independent sha256 ordering."""
from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from survey.db import get_session
from survey.models import PaperKeying, Response, SampleMember, StaffEntry
from survey.sampling import recheck
from tests.sampling.conftest import make_draw, sample_draws  # noqa: F401
from tests.staff.conftest import csrf_token, login, make_user, token_for

ANSWERS = {"result_time": "1", "agencies_contacted": "1", "extra_contacts": "1", "info_published": "4",
           "staff_attitude": "4", "result_legal": "4", "costs_legal": "4", "extra_charges": "2",
           "lodged_petition": "2", "used_online": "2", "overall": "5"}
TICKET = re.compile(r'name="submission_id" value="([^"]+)"')


def members(app, draw_id: int, selected: bool = True) -> list[SampleMember]:
    with app.app_context():
        rows = get_session().scalars(select(SampleMember).where(SampleMember.draw_id == draw_id,
                                                                SampleMember.selected.is_(selected))
                                     .order_by(SampleMember.respondent_code)).all()
        get_session().expunge_all()
        return rows


def post(client, url: str, code: str, answers: dict | None = None, **extra):
    page = client.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "submission_id": TICKET.search(page).group(1), "v": "2", "lang": "vi",
            "respondent_code": code, **(ANSWERS if answers is None else answers), **extra}
    return client.post(url, data=data)


def responses(app) -> list[Response]:
    with app.app_context():
        rows = get_session().scalars(select(Response).order_by(Response.id)).all()
        get_session().expunge_all()
        return rows


def status_of(app, code: str) -> str:
    with app.app_context():
        return get_session().scalar(select(SampleMember.status).where(SampleMember.respondent_code == code))


def coordinator(app, tree, name: str):
    """Another coordinator of commune A, logged in (double entry needs different people)."""
    with app.app_context():
        make_user(get_session(), name, "coordinator", tree.commune_a)
        get_session().commit()
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


def test_paper_form_stored_with_sample_tags_and_keyer(app, tree, as_role, sample_draws):  # noqa: F811
    draw_id = tree.ids["draw_a"]
    member = members(app, draw_id)[0]
    c = as_role("coordinator")
    page = c.get(f"/staff/sampling/draws/{draw_id}/entry").get_data(as_text=True)
    assert 'src="/static/entry.js"' in page and 'type="radio" name="overall" value="5"' in page
    assert "Đã trả lời 0/5" in page
    resp = post(c, f"/staff/sampling/draws/{draw_id}/entry", member.respondent_code.lower())
    assert resp.status_code == 303, resp.get_data(as_text=True)
    [stored] = responses(app)
    assert (stored.channel, stored.source, stored.sample_draw_id, stored.stratum) == ("paper", "sample", draw_id,
                                                                                     member.stratum)
    assert status_of(app, member.respondent_code) == "paper_returned"
    with app.app_context():
        s = get_session()
        entry_row = s.get(StaffEntry, stored.id)
        assert (entry_row.channel, entry_row.staff_login) == ("paper", tree.users["coordinator"])
        stored_codes = {r.item_key: r.code for r in s.get(Response, stored.id).answers}
    assert stored_codes == {k: int(v) for k, v in ANSWERS.items()}
    assert member.respondent_code not in repr(stored.__dict__)  # the response never names the respondent
    page = c.get(f"/staff/sampling/draws/{draw_id}/entry").get_data(as_text=True)
    assert "Đã trả lời 1/5" in page and "đã lưu phiếu giấy" in page


def test_bad_input_named(app, tree, as_role, sample_draws):  # noqa: F811
    draw_id = tree.ids["draw_a"]
    url = f"/staff/sampling/draws/{draw_id}/entry"
    first, second = members(app, draw_id)[:2]
    reserve = members(app, draw_id, selected=False)[0]
    c = as_role("coordinator")
    unknown = post(c, url, "M9-999999")
    assert unknown.status_code == 422 and "M9-999999" in unknown.get_data(as_text=True)
    assert post(c, url, "").status_code == 422
    other = members(app, tree.ids["draw_b"])[0]
    assert post(c, url, other.respondent_code).status_code == 403  # a member of commune B
    out_of_order = post(c, url, reserve.respondent_code)
    assert out_of_order.status_code == 422 and "dự phòng" in out_of_order.get_data(as_text=True)
    missing = post(c, url, first.respondent_code, {k: v for k, v in ANSWERS.items() if k != "staff_attitude"})
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "Câu “" in html and 'id="err-staff_attitude"' in html
    assert 'name="info_published" value="4" checked' in html  # the other answers are kept
    assert post(c, url, first.respondent_code, {**ANSWERS, "overall": "7"}).status_code == 400
    # a paper form that answers a follow-up its filter rules out: named, not silently dropped
    extra = post(c, url, first.respondent_code, {**ANSWERS, "petition_response": "3"})
    assert extra.status_code == 422 and 'id="err-petition_response"' in extra.get_data(as_text=True)
    assert responses(app) == []
    assert post(c, url, first.respondent_code).status_code == 303
    again = post(c, url, first.respondent_code)
    assert again.status_code == 409 and first.respondent_code in again.get_data(as_text=True)
    forged = post(c, url, second.respondent_code, submission_id="x" * 16 + "." + "1" * 13 + "." + "y" * 22)
    assert forged.status_code == 400
    assert len(responses(app)) == 1


def test_double_entry_settled_by_a_third_person(app, tree, as_role, sample_draws):  # noqa: F811
    draw_id = tree.ids["draw_a"]
    url = f"/staff/sampling/draws/{draw_id}/entry"
    one, two, three = as_role("coordinator"), coordinator(app, tree, "nhap.hai"), coordinator(app, tree, "doi.chieu")
    page = one.get(url).get_data(as_text=True)
    assert one.post(f"/staff/sampling/draws/{draw_id}/entry-mode",
                    data={"csrf_token": csrf_token(page), "double_entry": "1"}).status_code == 303
    agree, differ = members(app, draw_id)[:2]
    # two keyings that agree become one response
    assert post(one, url, agree.respondent_code).status_code == 303
    assert responses(app) == [] and status_of(app, agree.respondent_code) != "paper_returned"
    assert post(one, url, agree.respondent_code).status_code == 303  # sent twice (a double click): nothing new
    assert post(one, url, agree.respondent_code, {**ANSWERS, "overall": "4"}).status_code == 409  # not a second keying
    assert post(two, url, agree.respondent_code).status_code == 303
    assert len(responses(app)) == 1 and status_of(app, agree.respondent_code) == "paper_returned"
    # two keyings that disagree wait for a third person
    assert post(one, url, differ.respondent_code).status_code == 303
    assert post(two, url, differ.respondent_code, {**ANSWERS, "overall": "4", "staff_attitude": "2"}).status_code == 303
    assert len(responses(app)) == 1
    assert post(three, url, differ.respondent_code).status_code == 409  # waiting for the settlement
    settle = f"/staff/sampling/draws/{draw_id}/settle"
    assert differ.respondent_code in three.get(settle).get_data(as_text=True)
    page = three.get(f"{settle}?respondent_code={differ.respondent_code}").get_data(as_text=True)
    assert page.count("<tr><th scope=\"row\">") == 2  # staff_attitude and overall, item by item
    assert "Lần 1: 5 – " in page and "Lần 2: 4 – " in page
    assert post(two, f"{settle}?respondent_code={differ.respondent_code}", differ.respondent_code).status_code == 403
    settled = post(three, f"{settle}?respondent_code={differ.respondent_code}", differ.respondent_code,
                   {**ANSWERS, "overall": "4"})
    assert settled.status_code == 303
    stored = responses(app)
    assert len(stored) == 2 and status_of(app, differ.respondent_code) == "paper_returned"
    with app.app_context():
        s = get_session()
        assert s.scalar(select(func.count()).select_from(PaperKeying)) == 5  # 2 + 2 + the settlement
        overall = {a.code for a in s.get(Response, stored[1].id).answers if a.item_key == "overall"}
        assert overall == {4}
        assert s.get(StaffEntry, stored[1].id).staff_login == "doi.chieu"
    assert three.get(f"{settle}?respondent_code={differ.respondent_code}").status_code == 409  # settled already


def test_recheck_is_reproducible_sha256_order(app, tree, ctx):
    draw_id = make_draw(ctx, tree.commune_a, n=20)
    chosen = ctx.scalars(select(SampleMember).where(SampleMember.draw_id == draw_id, SampleMember.selected.is_(True))).all()
    with pytest.raises(recheck.RecheckError, match="Chưa có phiếu giấy"):
        recheck.draw(ctx, draw_id, "10%", "s1", "t")
    for m in chosen:
        m.status = "paper_returned"
    ctx.flush()
    codes = [m.respondent_code for m in chosen]
    expected = sorted(codes, key=lambda c: hashlib.sha256(f"phuc-tra:{c}".encode()).hexdigest())
    row = recheck.draw(ctx, draw_id, "40%", "phuc-tra", "t")  # 40% of 5 = 2
    assert recheck.picked(row) == expected[:2] and (row.returned, row.seed) == (5, "phuc-tra")
    assert recheck.picked(recheck.draw(ctx, draw_id, "3", "phuc-tra", "t")) == expected[:3]
    assert recheck.picked(recheck.draw(ctx, draw_id, "30%", "phuc-tra", "t")) == expected[:2]  # 1.5 rounds up
    other = recheck.picked(recheck.draw(ctx, draw_id, "5", "khac", "t"))
    assert sorted(other) == sorted(codes) and other != expected
    for bad, why in (("6", "Chỉ có 5"), ("0", "số nguyên"), ("abc", "ví dụ 5"), ("0%", "lớn hơn 0%"), ("1.5", "số nguyên")):
        with pytest.raises(recheck.RecheckError, match=why):
            recheck.draw(ctx, draw_id, bad, "s", "t")


def test_recheck_page_audited(app, tree, as_role, sample_draws):  # noqa: F811
    from tests.staff.conftest import audit_rows

    draw_id = tree.ids["draw_a"]
    c = as_role("coordinator")
    for m in members(app, draw_id)[:3]:
        assert post(c, f"/staff/sampling/draws/{draw_id}/entry", m.respondent_code).status_code == 303
    url = f"/staff/sampling/draws/{draw_id}/recheck"
    page = c.get(url).get_data(as_text=True)
    assert c.post(url, data={"csrf_token": csrf_token(page), "size": "200%", "seed": "x"}).status_code == 422
    assert c.post(url, data={"csrf_token": csrf_token(page), "size": "2", "seed": "hat-giong"}).status_code == 303
    [event] = audit_rows(app, "recheck_drawn")
    assert '"seed": "hat-giong"' in event.detail and '"returned": 3' in event.detail
    html = c.get(url).get_data(as_text=True)
    assert "hat-giong" in html and "Người " in html  # whom to contact for the re-check
    assert any('"what": "recheck"' in (e.detail or "") for e in audit_rows(app, "personal_data_viewed"))


def test_phone_interview_records_the_interviewer(app, tree, as_role, sample_draws):  # noqa: F811
    from tests.staff.conftest import audit_rows

    draw_id = tree.ids["draw_a"]
    member = members(app, draw_id)[0]
    c = as_role("coordinator")
    url = f"/staff/sampling/draws/{draw_id}/phone?respondent_code={member.respondent_code}"
    page = c.get(url).get_data(as_text=True)
    assert "0912000000" in page
    assert any('"what": "phone_interview"' in (e.detail or "") for e in audit_rows(app, "personal_data_viewed"))
    assert c.get(f"/staff/sampling/draws/{draw_id}/phone?respondent_code=NOPE").status_code == 422
    other = members(app, tree.ids["draw_b"])[0]
    assert c.get(f"/staff/sampling/draws/{draw_id}/phone?respondent_code={other.respondent_code}").status_code == 403
    assert post(c, url, member.respondent_code).status_code == 303
    [stored] = responses(app)
    assert (stored.channel, stored.source, stored.sample_draw_id) == ("phone", "sample", draw_id)
    assert status_of(app, member.respondent_code) == "answered_phone"
    with app.app_context():
        assert get_session().get(StaffEntry, stored.id).staff_login == tree.users["coordinator"]
    assert c.get(url).status_code == 409  # answered already


def test_recheck_cli(app, tree, ctx):
    import json

    draw_id = make_draw(ctx, tree.commune_a, n=20)
    chosen = ctx.scalars(select(SampleMember).where(SampleMember.draw_id == draw_id, SampleMember.selected.is_(True))).all()
    for m in chosen[:4]:
        m.status = "paper_returned"
    ctx.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sample", "recheck", str(draw_id), "--size", "50%", "--seed", "cli"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    expected = sorted((m.respondent_code for m in chosen[:4]), key=lambda c: hashlib.sha256(f"cli:{c}".encode()).hexdigest())
    assert (out["codes"], out["returned"], out["seed"]) == (expected[:2], 4, "cli")
    bad = runner.invoke(args=["sample", "recheck", str(draw_id), "--size", "9"])
    assert bad.exit_code == 1 and "9" in bad.output and "4" in bad.output


def test_one_form_per_member_even_when_two_people_key_it_at_once(app, tree, ctx):
    from sqlalchemy.orm.attributes import set_committed_value

    from survey.sampling import entry

    draw_id = make_draw(ctx, tree.commune_a)
    member = ctx.scalars(select(SampleMember).where(SampleMember.draw_id == draw_id, SampleMember.selected.is_(True))).first()
    form = entry.published(ctx, "counter-quick")
    answers = {k: int(v) for k, v in ANSWERS.items()}
    entry.store_response(ctx, form, member, answers, channel="paper", login="a", idempotency_key="1" * 53)
    set_committed_value(member, "status", "letter_sent")  # what a second keyer's session still believes
    with pytest.raises(entry.EntryError) as refused:
        entry.store_response(ctx, form, member, answers, channel="phone", login="b", idempotency_key="2" * 53)
    assert refused.value.status == 409
    assert ctx.scalar(select(func.count()).select_from(Response)) == 1


@pytest.mark.parametrize("page", ["settle", "phone"])
def test_a_post_without_a_respondent_code_is_a_400_that_says_so(tree, as_role, sample_draws, page):  # noqa: F811
    c = as_role("coordinator")
    url = f"/staff/sampling/draws/{tree.ids['draw_a']}/{page}"
    assert c.get(url).status_code == 200  # without a code, the page that asks for one
    resp = c.post(url, data={"csrf_token": token_for(c), "respondent_code": "  "})
    assert resp.status_code == 400 and "Vui lòng nhập mã người trả lời in trên phiếu." in resp.get_data(as_text=True)
