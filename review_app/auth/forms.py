"""The sign-in form (DESIGN §6: fields ``username`` and ``password``) and the form to change
one's own password."""

from __future__ import annotations

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import PasswordField, StringField, SubmitField  # type: ignore[import-untyped]
from wtforms.validators import EqualTo, InputRequired, Length  # type: ignore[import-untyped]

from rules.store.accounts import MAX_PASSWORD, MIN_PASSWORD

__all__ = ["ChangePasswordForm", "LoginForm"]


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    username = StringField(
        "Username",
        validators=[InputRequired("Enter your username."), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=MAX_PASSWORD)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Sign in")


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password."), Length(max=MAX_PASSWORD)],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        "New password",
        validators=[
            InputRequired("Enter a new password."),
            Length(
                min=MIN_PASSWORD,
                max=MAX_PASSWORD,
                message=f"Use at least {MIN_PASSWORD} characters (at most {MAX_PASSWORD}).",
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            InputRequired("Repeat the new password."),
            EqualTo("password", "The two passwords differ: type the same one twice."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Change password")
