"""One form builder: a questionnaire definition in, a FlaskForm subclass out, for rendering.

Each item type maps to a field factory in FIELD_FACTORIES. The fields render the questions
(and, after a mistake, what the visitor entered with a message per item); what a post means
is decided once, from the definition, by survey.citizen.submission.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Field, HiddenField, IntegerField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from questionnaires.loader import Item, Questionnaire, Section

from .submission import Posted


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LenientInteger(IntegerField):
    """A number input that shows back whatever was typed (survey.citizen.submission says what is wrong)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = valuelist[0].strip() if valuelist else ""
        try:
            self.data = int(raw) if raw else None
        except ValueError:
            self.data = None
        self.raw_data = valuelist


def _choice(item: Item, lang: str) -> dict[str, Any]:
    # Codes are checked by survey.citizen.submission (a bad code is a 400, not a form error).
    choices = [SelectChoice(code, label) for code, label in item.choices(lang)]
    return {"choices": choices, "coerce": int, "validate_choice": False}


FIELD_FACTORIES: dict[str, Callable[[Item, str], Field]] = {
    "satisfaction": lambda item, lang: RadioField(**_choice(item, lang)),
    "single": lambda item, lang: RadioField(**_choice(item, lang)),
    "multiple": lambda item, lang: MultiCheckboxField(**_choice(item, lang)),
    "number": lambda item, lang: LenientInteger(),
    "text": lambda item, lang: StringField(),
    "textarea": lambda item, lang: TextAreaField(),
}


class QuestionnaireForm(FlaskForm):
    """Base of every built form: the hidden bookkeeping fields (all a fresh form renders per
    request; the questions come pre-rendered, see survey.citizen.views)."""

    questionnaire: Questionnaire
    submission_id = HiddenField()
    v = HiddenField()  # the version the form was rendered with
    lang = HiddenField()
    _posted: Posted | None = None

    @classmethod
    def shown_again(cls, data: MultiDict, posted: Posted) -> QuestionnaireForm:
        """The form as the visitor sent it, with a message on each item to fix."""
        form = cls(formdata=data)
        form._posted = posted
        for key, message in posted.errors.items():
            form[key].errors = [message]
        return form

    def item_active(self, item: Item) -> bool:
        """For templates: hide conditional items the server knows are not applicable."""
        return self._posted is None or item.key in self._posted.answers

    def section_active(self, section: Section) -> bool:
        """For templates: a section none of whose items applies is hidden, heading and all."""
        return any(self.item_active(item) for item in section.items)


@lru_cache(maxsize=256)
def build_form(questionnaire: Questionnaire, lang: str) -> type[QuestionnaireForm]:
    """Build (once per questionnaire version and language) the form class for a questionnaire."""
    attrs: dict[str, Any] = {"questionnaire": questionnaire}
    for item in questionnaire.items:
        attrs[item.key] = FIELD_FACTORIES[item.type](item, lang)
    return type(f"Form_{questionnaire.key}_{questionnaire.version}_{lang}", (QuestionnaireForm,), attrs)
