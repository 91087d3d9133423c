"""Quality flags decided at submission time. Flags never delete: reports exclude flagged
responses by default and say how many (DOMAIN.md §6, §8)."""
from __future__ import annotations

from typing import Any

from questionnaires.loader import Questionnaire

# Under ~1.5 s per answered closed item nobody reads the questions.
SPEEDER_MS_PER_ITEM = 1500
STRAIGHTLINE_MIN_ITEMS = 10


def submission_flags(
    questionnaire: Questionnaire, answers: dict[str, Any], duration_ms: int | None, honeypot: str | None
) -> list[tuple[str, str]]:
    """(reason, detail) pairs for a new submission."""
    flags: list[tuple[str, str]] = []
    if honeypot:
        flags.append(("honeypot", "hidden field filled"))
    answered = [answers[i.key] for i in questionnaire.criteria if answers.get(i.key) not in (None, 0)]
    closed = sum(1 for i in questionnaire.items if i.type in ("satisfaction", "single") and answers.get(i.key) is not None)
    if duration_ms is not None and closed and duration_ms < SPEEDER_MS_PER_ITEM * closed:
        flags.append(("speeder", f"{duration_ms / 1000:.1f} s for {closed} answers"))
    if len(answered) >= STRAIGHTLINE_MIN_ITEMS and len(set(answered)) == 1:
        flags.append(("straightline", f"all {len(answered)} criteria answered {answered[0]}"))
    return flags
