"""The coordinators' forms (Flask-WTF for the CSRF token); labels live in the templates."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField


class UploadForm(FlaskForm):
    source = StringField()


class MappingForm(FlaskForm):
    token = HiddenField()
    source = HiddenField()


class DesignForm(FlaskForm):
    period_start = StringField()
    period_end = StringField()
    strata = SelectField(validate_choice=False)
    formula = SelectField(validate_choice=False)
    confidence = StringField(default="95")
    margin = StringField(default="5")
    proportion = StringField(default="50")
    response_rate = StringField(default="100")
    design_effect = StringField(default="1")
    allocation = SelectField(validate_choice=False)
    minimum = StringField(default="0")
    quota = StringField()
    total = StringField()
    seed = StringField()


class StatusForm(FlaskForm):
    respondent_code = StringField()
    status = SelectField(validate_choice=False)
