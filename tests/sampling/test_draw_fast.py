"""The fast draw pinned to plain references: numpy's first_ranks against sorted(sha256) in Python,
and a whole draw (members, ranks, reserves, respondent numbering, frame checksum) against the
published rule recomputed here from ORM rows with hashlib and sorted() alone, for each way of
stratifying: the speed-up must not move a single member of an old draw."""
from __future__ import annotations

import hashlib
import random
from datetime import date

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from analysis.sampling import first_ranks, selection_words
from survey.models import Field, FrameDossier, FrameImport, SampleMember
from survey.sampling import design, draws
from tests.sampling.conftest import unit


def reference_heads(strata: list[int], digests: list[bytes], keep: list[int]) -> list[tuple[int, int]]:
    """(position, rank) by stratum then digest: the head of each stratum, by sorted() alone."""
    out = []
    for s, k in enumerate(keep):
        rows = sorted((d, i) for i, (t, d) in enumerate(zip(strata, digests)) if t == s)
        out += [(i, r) for r, (_d, i) in enumerate(rows[:k], 1)]
    return out


def test_selection_words_are_the_sha256_digests():
    words = selection_words("quy4", ["HS-1", "Hồ-sơ/2"])
    for row, code in zip(words, ["HS-1", "Hồ-sơ/2"]):
        assert b"".join(int(w).to_bytes(8, "big") for w in row) == hashlib.sha256(f"quy4:{code}".encode()).digest()


def test_first_ranks_match_sorted_sha256():
    rng = random.Random(3)
    codes = [f"HS-{i}" for i in range(2000)]
    strata = [rng.randrange(7) for _ in codes]
    keep = [0, 1, 5, 40, 400, 2000, 3]
    rows, rank = first_ranks(np.array(strata), selection_words("s", codes), np.array(keep))
    digests = [hashlib.sha256(f"s:{c}".encode()).digest() for c in codes]
    assert list(zip(rows.tolist(), rank.tolist())) == reference_heads(strata, digests, keep)


def test_first_ranks_break_ties_on_the_first_word_with_the_whole_digest():
    # digests that share their first 8 bytes (a real sha256 pair that does is about 1 in 10^7 draws)
    rng = random.Random(5)
    digests = [bytes(8 * [rng.choice([0, 255])]) + rng.randbytes(24) for _ in range(300)]
    strata = [rng.randrange(3) for _ in digests]
    words = np.frombuffer(b"".join(digests), dtype=">u8").reshape(-1, 4)
    rows, rank = first_ranks(np.array(strata), words, np.array([300, 7, 50]))
    assert list(zip(rows.tolist(), rank.tolist())) == reference_heads(strata, digests, [300, 7, 50])


@pytest.fixture
def frame(ctx):
    """Dossiers in two communes × two fields over two months, with codes that sort differently as
    codes and as lines ("X-1" / "X-10"), a Vietnamese one, and one outside the period."""
    fields = {f.code: f for f in ctx.scalars(select(Field).where(Field.code.in_(["dat-dai", "tu-phap-ho-tich"])))}
    batch = FrameImport(unit_id=unit("33").id, source="test", filename="t.csv", file_sha256="0" * 64)
    ctx.add(batch)
    ctx.flush()
    codes = [f"X-{i}" for i in range(1, 40)] + [f"HS-{i:04d}" for i in range(60)] + ["Hồ-sơ-đặc-biệt", "X-1|b"]
    random.Random(1).shuffle(codes)
    places = [("11953", "dat-dai"), ("11953", "tu-phap-ho-tich"), ("12001", "dat-dai"), ("12001", "tu-phap-ho-tich")]
    for i, code in enumerate(codes):
        u, f = places[i % 4 if i % 9 else 0]
        ctx.add(FrameDossier(dossier_code=code, unit_id=unit(u).id, field_id=fields[f].id,
                             completed_on=date(2026, 10 + i % 2, 1 + i % 28), import_id=batch.id))
    ctx.add(FrameDossier(dossier_code="LATE-1", unit_id=unit("11953").id, field_id=fields["dat-dai"].id,
                         completed_on=date(2027, 1, 2), import_id=batch.id))
    ctx.flush()
    return ctx


def reference_draw(session, saved, seed: str) -> tuple[str, list[tuple]]:
    """(frame checksum, members as (stratum, code, rank, selected, reserve rank) in respondent order),
    from ORM rows and the published rule: the frame's lines sorted, each stratum sorted by sha256 hex."""
    dossiers = [d for d in session.scalars(select(FrameDossier))
                if saved.period_start <= d.completed_on <= saved.period_end
                and d.unit.path.startswith(saved.unit.path)]
    lines = sorted(f"{d.dossier_code}|{d.unit.code}|{d.field.code}|{d.completed_on.isoformat()}" for d in dossiers)
    checksum = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    strata: dict[tuple[str, str], list[str]] = {}
    for d in dossiers:
        key = ("*" if saved.strata == "field" else d.unit.code, "*" if saved.strata == "unit" else d.field.code)
        strata.setdefault(key, []).append(d.dossier_code)
    n_h = {(u, f): int(n) for u, f, n in design.preview(session, design.Params.of(saved)).strata[["unit", "field", "n"]]
           .itertuples(index=False)}
    members = []
    for key in sorted(strata):
        order = sorted(strata[key], key=lambda c: hashlib.sha256(f"{seed}:{c}".encode()).hexdigest())
        n = n_h[key]
        members += [(f"{key[0]}|{key[1]}", c, r, r <= n, None if r <= n else r - n)
                    for r, c in enumerate(order[:n + max(n, draws.RESERVE_MIN)], 1)]
    return checksum, members


@pytest.mark.parametrize("strata", ["unit_field", "unit", "field"])
def test_a_draw_is_the_published_rule_member_for_member(frame, strata):
    saved = design.save(frame, design.Params(unit("33"), date(2026, 10, 1), date(2026, 12, 31), strata=strata,
                                             total=17), "t")
    row = draws.draw(frame, saved, seed="quy4-2026")
    frame.flush()
    got = frame.execute(select(SampleMember.stratum, FrameDossier.dossier_code, SampleMember.rank, SampleMember.selected,
                               SampleMember.reserve_rank, SampleMember.respondent_code)
                        .join(FrameDossier, FrameDossier.id == SampleMember.dossier_id)
                        .where(SampleMember.draw_id == row.id).order_by(SampleMember.respondent_code)).all()
    checksum, members = reference_draw(frame, saved, "quy4-2026")
    assert [tuple(g[:5]) for g in got] == members
    assert [g[5] for g in got] == [f"M{row.id}-{i:06d}" for i in range(1, len(got) + 1)]
    assert row.frame_sha256 == checksum and row.frame_size == 101 and row.selected == 17
    assert draws.verify(frame, row).frame_unchanged


def test_an_empty_frame_verifies_as_changed_not_as_an_error(frame):
    saved = design.save(frame, design.Params(unit("33"), date(2026, 10, 1), date(2026, 12, 31), total=5), "t")
    row = draws.draw(frame, saved, seed="s")
    frame.flush()
    frame.execute(update(FrameDossier).values(completed_on=date(2025, 1, 1)))  # every dossier leaves the period
    check = draws.verify(frame, row)
    assert not check.matches and not check.frame_unchanged


def test_a_commune_design_reads_only_its_own_dossiers(ctx, frame):
    # a design on commune 12001 alone reads only its dossiers
    saved = design.save(ctx, design.Params(unit("12001"), date(2026, 10, 1), date(2026, 12, 31), total=4), "t")
    got = draws.frame_of(ctx, saved)
    assert got.labels == [("12001", "dat-dai"), ("12001", "tu-phap-ho-tich")]
    assert all(line.split("|")[-3] == "12001" for line in got.lines) and len(got) == len(set(got.codes)) > 0


def test_a_code_with_a_line_break_is_named_not_split(frame):
    # the import refuses control characters; a row written around it must not shift the strata
    first = frame.scalar(select(FrameDossier).where(FrameDossier.dossier_code == "HS-0001"))
    first.dossier_code = "HS-0001\nHS-9999"
    frame.flush()
    saved = design.save(frame, design.Params(unit("33"), date(2026, 10, 1), date(2026, 12, 31), total=5), "t")
    with pytest.raises(draws.DrawError, match="xuống dòng"):
        draws.draw(frame, saved, seed="s")


def test_without_a_bar_in_any_code_the_codes_are_cut_from_the_lines_alike(frame):
    # the frame fixture holds "X-1|b" (codes then come by rsplit); without it, by the faster partition
    frame.execute(delete(FrameDossier).where(FrameDossier.dossier_code == "X-1|b"))
    saved = design.save(frame, design.Params(unit("33"), date(2026, 10, 1), date(2026, 12, 31), total=17), "t")
    assert "X-1" in draws.frame_of(frame, saved).codes
    row = draws.draw(frame, saved, seed="quy4-2026")
    frame.flush()
    got = frame.execute(select(SampleMember.stratum, FrameDossier.dossier_code, SampleMember.rank, SampleMember.selected,
                               SampleMember.reserve_rank)
                        .join(FrameDossier, FrameDossier.id == SampleMember.dossier_id)
                        .where(SampleMember.draw_id == row.id).order_by(SampleMember.respondent_code)).all()
    checksum, members = reference_draw(frame, saved, "quy4-2026")
    assert [tuple(g) for g in got] == members and row.frame_sha256 == checksum and row.frame_size == 100
