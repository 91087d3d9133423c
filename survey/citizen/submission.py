"""Reading a posted questionnaire: the form body in, validated answers (or errors) out.

Every submit is read here, once, straight from the frozen definition. Binding and
validating ~40 WTForms field objects per submit cost more CPU than the rest of the request
together, so WTForms (survey.citizen.forms) only renders; this module is the one place that decides
what a post means:

- what no honest form could send (an unknown field, a code not in the item's list, two
  answers to a one-answer item, no submission id) raises BadSubmission, answered with 400;
- what a person can get wrong (a required item left blank, a number out of range, too long
  a text) comes back as a message per item, and the form is shown again (422);
- conditional items are resolved in definition order, as the form shows them without
  JavaScript: an item whose condition does not hold is neither required nor stored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from questionnaires.loader import Item, Questionnaire

from ..i18n import _
from . import tickets

CODE = re.compile(r"[0-9]{1,3}")  # ASCII digits only: one spelling per code
HONEYPOT = "website"  # invisible to people, tempting to bots
# `started` came from pages rendered before tickets carried the render time; it is ignored.
HIDDEN_FIELDS = frozenset({"csrf_token", "submission_id", "v", "started", "lang", HONEYPOT})
CHOICE_TYPES = frozenset({"satisfaction", "single", "multiple"})
TEXT_TYPES = frozenset({"text", "textarea"})


class BadSubmission(ValueError):
    """A post no honest form could send: unknown field, code out of range. Answered with 400."""


@dataclass(frozen=True)
class Posted:
    """One read post: answers of the items shown (None/[] for blanks) or what to fix."""

    answers: dict[str, Any]
    errors: dict[str, str]  # item key → message, in the visitor's language
    submission_id: str  # the form's ticket (survey.citizen.tickets), checked by the view
    honeypot: str | None


_known: dict[str, frozenset[str]] = {}  # checksum → field names a rendered form may post


def read(questionnaire: Questionnaire, data: MultiDict, lang: str) -> Posted:
    """Check and read one post (raises BadSubmission)."""
    known = _known.get(questionnaire.checksum)
    if known is None:
        known = _known[questionnaire.checksum] = HIDDEN_FIELDS | {i.key for i in questionnaire.items}
    unknown = [name for name in data if name not in known]
    if unknown:
        raise BadSubmission(_("Trường không có trong phiếu: {names}.", names=", ".join(sorted(unknown)[:5])))
    submission_id = data.get("submission_id", "")
    if not tickets.is_well_formed(submission_id):
        raise BadSubmission(_("Thiếu mã lần gửi phiếu. Vui lòng tải lại phiếu và gửi lại."))
    answers: dict[str, Any] = {}
    shown: dict[str, Any] = {}  # every item's value as the conditions see it (None when hidden)
    errors: dict[str, str] = {}
    for item in questionnaire.items:
        raw = data.getlist(item.key)
        value = _coded(item, raw, lang) if item.type in CHOICE_TYPES else (raw[0] if raw else None)
        if item.show_if is not None and not item.show_if.holds(shown):
            shown[item.key] = None
            continue
        value, error = _checked(item, value)
        shown[item.key] = answers[item.key] = value
        if error:
            errors[item.key] = error
    return Posted(answers, errors, submission_id, data.get(HONEYPOT))


def _coded(item: Item, raw: list[str], lang: str) -> int | list[int] | None:
    """The chosen code(s); anything a rendered form could not send raises BadSubmission."""
    if len(raw) > 1 and item.type != "multiple":
        raise BadSubmission(_("Câu “{label}” chỉ được chọn một đáp án.", label=item.label.get(lang)))
    codes = []
    for value in raw:
        if not CODE.fullmatch(value) or int(value) not in item.valid_codes:
            raise BadSubmission(_("Giá trị “{value}” không hợp lệ cho câu “{label}”.",
                                  value=value[:20], label=item.label.get(lang)))
        codes.append(int(value))
    if item.type == "multiple":
        return codes
    return codes[0] if codes else None


def _checked(item: Item, value: Any) -> tuple[Any, str | None]:
    """(the value to store, the message to show): required, number parsing and range, length."""
    if item.type in TEXT_TYPES and value is not None:
        if len(value) > item.max_length:
            return value, _("Tối đa {n} ký tự (hiện có {m}).", n=item.max_length, m=len(value))
        value = value.strip() or None
    elif item.type == "number" and value is not None:
        value = value.strip() or None
        if value is not None:
            try:
                value = int(value)
            except ValueError:
                return None, _("Vui lòng nhập một số nguyên, ví dụ 80.")
            if not item.min <= value <= item.max:
                return value, _("Vui lòng nhập một số từ {min} đến {max}.", min=item.min, max=item.max)
    if value is None or value == []:
        value = [] if item.type == "multiple" else None
        if item.required:
            return value, (_("Vui lòng nhập câu trả lời.") if item.type in ("number", *TEXT_TYPES)
                           else _("Vui lòng chọn một câu trả lời."))
    return value, None
