"""One form builder: a questionnaire definition in, a FlaskForm subclass out.

Each item type maps to a field factory in FIELD_FACTORIES. Conditional items (show_if)
are resolved here on the server, so the form works without JavaScript: an item whose
condition does not hold is neither required nor stored.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.datastructures import MultiDict
from wtforms import Field, HiddenField, IntegerField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from questionnaires.loader import Item, Questionnaire

from .i18n import _

csrf = CSRFProtect()

SUBMISSION_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
HONEYPOT = "website"  # invisible to people, tempting to bots


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class BadSubmission(ValueError):
    """A post no honest form could send: unknown field, code out of range. Answered with 400."""


def _is_active(item: Item, form: FlaskForm) -> bool:
    """Whether the item's show_if condition holds for the submitted answers."""
    if item.show_if is None:
        return True
    parent = form._fields[item.show_if.item]
    return item.show_if.holds({item.show_if.item: parent.data})


class ItemValidator:
    """Required-if-shown plus type checks, with messages in the visitor's language."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.field_flags = {"required": item.required} if item.required else {}

    def __call__(self, form: FlaskForm, field: Field) -> None:
        item = self.item
        if not _is_active(item, form):
            field.errors[:] = []
            field.data = [] if item.type == "multiple" else None
            raise StopValidation()
        if field.process_errors:  # e.g. letters typed into a number: keep that message
            raise StopValidation()
        empty = field.data in (None, "", []) or (isinstance(field.data, str) and not field.data.strip())
        if empty:
            field.errors[:] = []
            if item.required:
                message = _("Vui lòng nhập câu trả lời.") if item.type in ("number", "text", "textarea") else _("Vui lòng chọn một câu trả lời.")
                raise StopValidation(message)
            field.data = [] if item.type == "multiple" else None
            raise StopValidation()
        if item.type == "number" and not (item.min <= field.data <= item.max):
            raise ValidationError(_("Vui lòng nhập một số từ {min} đến {max}.", min=item.min, max=item.max))
        if item.type in ("text", "textarea") and len(field.data) > item.max_length:
            raise ValidationError(_("Tối đa {n} ký tự (hiện có {m}).", n=item.max_length, m=len(field.data)))


class LenientInteger(IntegerField):
    """An integer input whose parse error is reported in Vietnamese like every other error."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(_("Vui lòng nhập một số nguyên, ví dụ 80."))


def _choice(item: Item, lang: str) -> dict[str, Any]:
    # Codes were already checked by check_post (a bad code is a 400, not a form error).
    choices = [SelectChoice(code, label) for code, label in item.choices(lang)]
    return {"choices": choices, "coerce": int, "validate_choice": False}


FIELD_FACTORIES: dict[str, Callable[[Item, str], Field]] = {
    "satisfaction": lambda item, lang: RadioField(validators=[ItemValidator(item)], **_choice(item, lang)),
    "single": lambda item, lang: RadioField(validators=[ItemValidator(item)], **_choice(item, lang)),
    "multiple": lambda item, lang: MultiCheckboxField(validators=[ItemValidator(item)], **_choice(item, lang)),
    "number": lambda item, lang: LenientInteger(validators=[ItemValidator(item)]),
    "text": lambda item, lang: StringField(validators=[ItemValidator(item)]),
    "textarea": lambda item, lang: TextAreaField(validators=[ItemValidator(item)]),
}


class QuestionnaireForm(FlaskForm):
    """Base of every built form: hidden bookkeeping fields and the strict pre-check."""

    questionnaire: Questionnaire
    submission_id = HiddenField()
    v = HiddenField()  # the version the form was rendered with
    started = HiddenField()
    lang = HiddenField()
    website = StringField()  # honeypot, hidden by CSS and aria-hidden

    def check_post(self, data: MultiDict) -> None:
        """Refuse what the rendered form could not have sent (raises BadSubmission)."""
        known = set(self._fields) | {"csrf_token"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadSubmission(_("Trường không có trong phiếu: {names}.", names=", ".join(unknown[:5])))
        if not SUBMISSION_ID.match(data.get("submission_id", "")):
            raise BadSubmission(_("Thiếu mã lần gửi phiếu. Vui lòng tải lại phiếu và gửi lại."))
        for item in self.questionnaire.items:
            values = data.getlist(item.key)
            if item.type in ("satisfaction", "single") and len(values) > 1:
                raise BadSubmission(_("Câu “{label}” chỉ được chọn một đáp án.", label=item.label.get(self.lang_code)))
            if item.type in ("satisfaction", "single", "multiple"):
                for value in values:
                    if not re.fullmatch(r"\d{1,3}", value) or int(value) not in item.valid_codes:
                        raise BadSubmission(
                            _("Giá trị “{value}” không hợp lệ cho câu “{label}”.", value=value[:20], label=item.label.get(self.lang_code))
                        )

    @property
    def lang_code(self) -> str:
        return "en" if self.lang.data == "en" else "vi"

    def answers(self) -> dict[str, Any]:
        """Validated answers of the items that are shown, by item key (None/[] for blanks)."""
        out: dict[str, Any] = {}
        for item in self.questionnaire.items:
            if _is_active(item, self):
                value = self._fields[item.key].data
                if isinstance(value, str):
                    value = value.strip() or None
                out[item.key] = value
        return out

    def item_active(self, item: Item) -> bool:
        """For templates: hide conditional items the server knows are not applicable."""
        return not self.is_submitted() or _is_active(item, self)


@lru_cache(maxsize=256)
def build_form(questionnaire: Questionnaire, lang: str) -> type[QuestionnaireForm]:
    """Build (once per questionnaire version and language) the form class for a questionnaire."""
    attrs: dict[str, Any] = {"questionnaire": questionnaire}
    for item in questionnaire.items:
        attrs[item.key] = FIELD_FACTORIES[item.type](item, lang)
    return type(f"Form_{questionnaire.key}_{questionnaire.version}_{lang}", (QuestionnaireForm,), attrs)
