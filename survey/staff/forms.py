"""The staff forms. Labels are written in the templates (inside `_()`), so these classes only
carry fields, limits and CSRF; errors are added by the views in the request's language."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField


class LoginForm(FlaskForm):
    login = StringField()
    password = PasswordField()


class PasswordForm(FlaskForm):
    current = PasswordField()
    new = PasswordField()
    confirm = PasswordField()


class UserForm(FlaskForm):
    login = StringField()
    full_name = StringField()
    role = SelectField(validate_choice=False)
    unit_code = StringField()


class GrantForm(FlaskForm):
    role = SelectField(validate_choice=False)
    unit_code = StringField()


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class UnitForm(FlaskForm):
    code = StringField()
    name = StringField()
    kind = SelectField(validate_choice=False)


class CounterForm(FlaskForm):
    code = StringField()
    name = StringField()
    questionnaire = SelectField(validate_choice=False)
    fields = SelectMultipleField(validate_choice=False)
    active = BooleanField(default=True)
