"""Per-response signatures: every coded answer of a response packed into a few integers.

Grouping a response's answer rows into one row follows the responses index and the answers
index (response_id, item_key, code), so the database streams it without sorting, where a
GROUP BY over items and codes sorts every answer; numpy then cross-tabulates the rows
(`cells`). survey.reporting.counts stores one signature per response (response_signatures) and builds
answer_counts from them; survey.reporting.breakdowns reads stored signatures, or computes them from the
raw rows for days the stored ones do not cover, for every ad-hoc breakdown.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, ColumnElement, case, cast, func, literal_column

from questionnaires.loader import CODED_TYPES, Questionnaire

from ..models import Answer

PART_BITS = 62  # per packed integer: sums of shifted codes stay below 2**63 on both databases
NO_ANSWER = -(2 ** 62)  # a decoded code meaning "not answered" (numbers may be 0 or negative)


@dataclass(frozen=True)
class Packed:
    """Where one item's answer sits in a signature: bits [shift, shift + width) of part `part`.

    A single answer is stored as code − low + 1 (0 = not answered); a multiple-choice item
    has one bit per option (bit code − low)."""

    key: str
    part: int
    shift: int
    width: int
    low: int
    multiple: bool


def item_width(low: int, high: int, multiple: bool) -> int:
    return (high - low + 1) if multiple else (high - low + 1).bit_length()


def code_range(questionnaire: Questionnaire, key: str) -> tuple[int, int, bool] | None:
    """(lowest code, highest code, multiple) of a coded item, or None when it has no such item."""
    for item in questionnaire.items:
        if item.key == key and item.type in CODED_TYPES:
            codes = item.valid_codes or range(item.min, item.max + 1)
            return min(codes), max(codes), item.type == "multiple"
    return None


def packing(fields: Iterable[tuple[str, int, int, bool]]) -> list[Packed]:
    """Bit fields for (key, lowest code, highest code, multiple), PART_BITS per part, in order;
    ValueError for an item wider than a part."""
    packed, part, used = [], 0, 0
    for key, low, high, multiple in fields:
        width = item_width(low, high, multiple)
        if width > PART_BITS:
            raise ValueError(f"item '{key}' has codes {low}–{high}: too wide a range to break down by")
        if used + width > PART_BITS:
            part, used = part + 1, 0
        packed.append(Packed(key, part, used, width, low, multiple))
        used += width
    return packed


def packed_sums(packed: Iterable[Packed], parts: int) -> list[ColumnElement]:
    """One SUM per part over a response's answer rows, each answer shifted into its bit field."""
    return list(_packed_sums(tuple(packed), parts))


@lru_cache(maxsize=256)  # a refresh asks for every version's sums once a month
def _packed_sums(packed: tuple[Packed, ...], parts: int) -> tuple[ColumnElement, ...]:
    sums = []
    for part in range(parts):
        whens = {  # bigint before shifting (PostgreSQL's integer is 32 bits), shifted by an integer
            p.key: (cast(literal_column("1"), BigInteger()).op("<<")(Answer.code + literal_column(str(p.shift - p.low)))
                    if p.multiple else
                    cast(Answer.code + literal_column(str(1 - p.low)), BigInteger()).op("<<")(literal_column(str(p.shift))))
            for p in packed if p.part == part
        }
        sums.append(func.coalesce(func.sum(case(whens, value=Answer.item_key)), 0) if whens else literal_column("0"))
    return tuple(sums)


def part_values(column: pd.Series) -> np.ndarray:
    """A part column as int64. PostgreSQL sums bigints as numeric (Decimal): converted
    exactly, never through float."""
    if column.dtype == object:
        return np.array([int(v) for v in column], dtype=np.int64)
    return column.to_numpy(dtype=np.int64)


def decode(frame: pd.DataFrame, p: Packed) -> np.ndarray:
    """Codes of one item (NO_ANSWER where blank); for a multiple-choice item, the bit mask of options."""
    field = (part_values(frame[f"_part{p.part}"]) >> p.shift) & ((1 << p.width) - 1)
    return field if p.multiple else np.where(field == 0, NO_ANSWER, field + p.low - 1)


def answered(frame: pd.DataFrame, packed: Iterable[Packed]) -> np.ndarray:
    """How many answer rows each signature holds (one per option chosen)."""
    total = np.zeros(len(frame), dtype=np.int64)
    for p in packed:
        codes = decode(frame, p)
        if p.multiple:
            total += sum((codes >> b) & 1 for b in range(p.width))
        else:
            total += codes != NO_ANSWER
    return total


def response_groups(frame: pd.DataFrame, dims: Sequence[str], packed: list[Packed]) -> tuple[pd.DataFrame, np.ndarray]:
    """Each response's group columns (dims, source, flag_reason) and, per row, its response's
    position. A dim that is a column of the frame groups by it; any other dim is an item of
    `packed`, NA where not answered: a respondent who chose several options of a
    multiple-choice dimension is one row per option."""
    by_key = {p.key: p for p in packed}
    items = [d for d in dims if d not in frame.columns]
    groups = frame[[d for d in dims if d in frame.columns and d not in ("source", "flag_reason")] + ["source", "flag_reason"]].copy()
    for dim in items:
        p, codes = by_key[dim], decode(frame, by_key[dim])
        if p.multiple:
            groups[dim] = [[p.low + b for b in range(p.width) if m >> b & 1] or [pd.NA] for m in codes.tolist()]
        else:
            groups[dim] = pd.array(np.where(codes == NO_ANSWER, 0, codes), dtype="Int64")
            groups.loc[codes == NO_ANSWER, dim] = pd.NA
    position = np.arange(len(groups))
    multi = [d for d in items if by_key[d].multiple]
    if multi:
        groups = groups.assign(_position=position)
        for dim in multi:
            groups = groups.explode(dim)
        position = groups.pop("_position").to_numpy()
        groups = groups.reset_index(drop=True)
    return groups, position


def cells(frame: pd.DataFrame, dims: Sequence[str], packed: list[Packed], counted: Sequence[str]) -> pd.DataFrame:
    """Counts frame (dims, source, flag_reason, item, code, n) from signatures: one bincount
    per counted item over (response group × code)."""
    by_key = {p.key: p for p in packed}
    groups, position = response_groups(frame, dims, packed)
    keys = list(groups.columns)
    group_id = groups.groupby(keys, dropna=False, sort=False, observed=True).ngroup().to_numpy() if len(groups) else np.zeros(0, int)
    table = groups.assign(_g=group_id).drop_duplicates("_g").set_index("_g")[keys]
    found: list[tuple[int, np.ndarray, np.ndarray]] = []  # (index in counted, flat cell, n)
    for index, key in enumerate(counted):
        p = by_key[key]
        codes = decode(frame, p)[position]
        if p.multiple:  # one count per option chosen
            chosen = [(group_id[(codes >> b) & 1 == 1], p.low + b) for b in range(p.width)]
            g = np.concatenate([ids for ids, _ in chosen])
            c = np.concatenate([np.full(len(ids), code) for ids, code in chosen])
        else:
            mask = codes != NO_ANSWER
            g, c = group_id[mask], codes[mask]
        if not len(g):
            continue
        low, span = int(c.min()), int(c.max() - c.min() + 1)
        tally = np.bincount(g * span + (c - low), minlength=(int(group_id.max()) + 1) * span)
        hit = np.flatnonzero(tally)
        found.append((index, hit // span, hit % span + low, tally[hit]))
    if not found:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in [*keys, "item", "code", "n"]})
    item = np.concatenate([np.full(len(g), index) for index, g, _, _ in found])
    out = table.reindex(np.concatenate([g for _, g, _, _ in found])).reset_index(drop=True)
    return out.assign(item=np.asarray(counted, dtype=object)[item], code=np.concatenate([c for _, _, c, _ in found]),
                      n=np.concatenate([n for _, _, _, n in found]))
