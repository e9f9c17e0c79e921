"""The sign-in form (DESIGN §6: fields ``username`` and ``password``)."""

from __future__ import annotations

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import PasswordField, StringField, SubmitField  # type: ignore[import-untyped]
from wtforms.validators import InputRequired, Length  # type: ignore[import-untyped]

__all__ = ["LoginForm"]


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    username = StringField(
        "Username",
        validators=[InputRequired("Enter your username."), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Sign in")
