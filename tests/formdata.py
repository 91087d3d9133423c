"""Build the POST body an honest citizen's browser would send for a questionnaire."""
from __future__ import annotations

from typing import Any

from questionnaires.loader import Questionnaire


def answers_for(q: Questionnaire, choose: int = 4, **overrides: Any) -> dict[str, Any]:
    """A complete, valid answer set: satisfaction items get `choose`, choices their first option."""
    out: dict[str, Any] = {}
    for item in q.items:
        if item.key in overrides:
            value = overrides[item.key]
        elif item.show_if is not None and not item.show_if.holds(out):
            continue
        elif item.type == "satisfaction":
            value = choose
        elif item.type == "single":
            value = item.options[0].code
        elif item.type == "multiple":
            value = [item.options[0].code, item.options[-1].code]
        elif item.type == "number":
            value = (item.min + item.max) // 2
        else:
            value = "Cán bộ nhiệt tình" if item.required else None
        if value is not None:
            out[item.key] = value
    return out


def post_body(hidden: dict[str, str], answers: dict[str, Any]) -> list[tuple[str, str]]:
    body = [(k, v) for k, v in hidden.items()]
    for key, value in answers.items():
        for v in value if isinstance(value, list) else [value]:
            body.append((key, str(v)))
    return body
