"""Fieldwork tracking: statuses by respondent code, replacements strictly in reserve order,
response rates per stratum; and the page that records them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.models import SampleMember
from survey.sampling import tracking
from tests.sampling.conftest import make_draw, sample_draws  # noqa: F401
from tests.staff.conftest import csrf_token


def members(session, draw_id):
    return session.scalars(select(SampleMember).where(SampleMember.draw_id == draw_id).order_by(SampleMember.id)).all()


def test_statuses_replacements_in_reserve_order_and_rates(ctx):
    draw_id = make_draw(ctx, "11953", n=30)
    ms = members(ctx, draw_id)
    chosen = [m for m in ms if m.selected]
    reserves = sorted((m for m in ms if not m.selected), key=lambda m: m.reserve_rank)
    assert len(chosen) == 5 and [m.reserve_rank for m in reserves] == list(range(1, 11))
    tracking.set_status(ctx, chosen[0], "paper_returned")
    tracking.set_status(ctx, chosen[1], "answered_phone")
    tracking.set_status(ctx, chosen[2], "refused")
    tracking.set_status(ctx, chosen[3], "unreachable")
    first = tracking.replace(ctx, chosen[2])
    second = tracking.replace(ctx, chosen[3])
    assert (first.reserve_rank, second.reserve_rank) == (1, 2)  # strictly in order
    assert chosen[2].status == "replaced" and first.status == "letter_sent"
    with pytest.raises(tracking.TrackingError, match="dự phòng chưa được dùng"):
        tracking.set_status(ctx, reserves[5], "paper_returned")  # a reserve out of order
    with pytest.raises(tracking.TrackingError):
        tracking.set_status(ctx, chosen[0], "refused")  # an answered form stays answered
    with pytest.raises(tracking.TrackingError):
        tracking.replace(ctx, chosen[4])  # not refused or unreachable
    tracking.set_status(ctx, first, "paper_returned")
    [rate] = tracking.rates(ctx, draw_id)
    # in the field: 5 selected + 2 reserves = 7; answered 3; the replaced two count as non-respondents
    assert (rate["fielded"], rate["answered"], rate["pending"]) == (7, 3, 2)
    assert rate["rr1"] == pytest.approx(3 / 7)
    assert tracking.is_sampled(ctx, first.dossier.unit_id, first.dossier.dossier_code)
    assert not tracking.is_sampled(ctx, reserves[5].dossier.unit_id, reserves[5].dossier.dossier_code)


def test_unknown_code_is_named(ctx):
    draw_id = make_draw(ctx, "11953")
    with pytest.raises(tracking.TrackingError, match="XYZ"):
        tracking.member_by_code(ctx, draw_id, "XYZ")


def test_status_page(app, tree, as_role, sample_draws):  # noqa: F811
    c = as_role("coordinator")
    url = f"/staff/sampling/draws/{tree.ids['draw_a']}"
    page = c.get(url).get_data(as_text=True)
    code = f"M{tree.ids['draw_a']}-000001"
    ok = c.post(url + "/status", data={"csrf_token": csrf_token(page), "respondent_code": code.lower(), "status": "refused",
                                        "action": "status"})
    assert ok.status_code == 302
    replaced = c.post(url + "/status", data={"csrf_token": csrf_token(page), "respondent_code": code, "action": "replace"})
    assert replaced.status_code == 302
    html = c.get(url).get_data(as_text=True)
    assert "được thay bằng người dự phòng" in html and "Đã thay bằng người dự phòng" in html
    bad = c.post(url + "/status", data={"csrf_token": csrf_token(page), "respondent_code": "M0-1", "status": "refused"})
    assert bad.status_code == 422 and "M0-1" in bad.get_data(as_text=True)
    other = f"/staff/sampling/draws/{tree.ids['draw_b']}/status"
    assert c.post(other, data={"csrf_token": csrf_token(page), "respondent_code": code}).status_code == 403
