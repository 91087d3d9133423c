"""Flagged responses counted exactly, by reason, from response_flags (a counts frame can only
bound them from below): what a report says it left out.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Response
from .counts import first_flags
from .selection import (
    Selection,
    counts_dims,
    dimension_columns,
    fetch_rows,
    filter_responses,
    label_groups,
    resolve,
    rows_frame,
)


def flagged_responses(session: Session, sel: Selection) -> pd.DataFrame:
    """Exact number of flagged responses by sel.by (+ source) and reason, same filters as the report.

    A response with several flags is counted once, under its first reason (alphabetical), the
    same rule the maintained counts use, so the rows add up to the responses left out.
    """
    scope = resolve(session, sel)
    dims = counts_dims(sel)
    flag = first_flags()
    base = select().select_from(Response).join(flag, flag.c.response_id == Response.id)
    base, columns = dimension_columns(base, dims)
    groups = [*columns, Response.source, flag.c.reason]
    query = filter_responses(base.add_columns(*groups, func.count()), scope, sel.since, sel.until)
    frame = rows_frame(fetch_rows(session, query.group_by(*groups)), [*dims, "source", "flag_reason", "responses"])
    out = label_groups(session, frame, scope, dims).drop(columns="flagged")
    return out.astype({"responses": "int64"})


def exclusion_rows(flagged: pd.DataFrame, dims: list[str], excluded: bool) -> pd.DataFrame:
    """Exact flagged responses by group and reason; `excluded` says whether the figures left them out."""
    return flagged.assign(excluded=excluded).sort_values([*dims, "source", "flag_reason"], ignore_index=True)
