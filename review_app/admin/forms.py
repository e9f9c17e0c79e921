"""The admin pages' forms: a new user, a user's role, a new API key, the kill switch."""

from __future__ import annotations

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import (  # type: ignore[import-untyped]
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import (  # type: ignore[import-untyped]
    AnyOf,
    EqualTo,
    InputRequired,
    Length,
    Regexp,
)

from review_app.forms import MultiCheckboxField
from rules.store.accounts import MIN_PASSWORD, USERNAME
from rules.store.models import ROLES, SCOPES

__all__ = ["CreateKeyForm", "CreateUserForm", "KillSwitchForm", "RoleForm"]

ROLE_CHOICES = [SelectChoice(r) for r in ROLES]


class CreateUserForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    username = StringField(
        "Username",
        validators=[
            InputRequired("Enter a username."),
            Regexp(USERNAME, message="Use 1 to 64 letters, digits or _ . @ - (no spaces)."),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[InputRequired("Pick a role.")])
    password = PasswordField(
        "Initial password",
        validators=[
            InputRequired("Enter an initial password."),
            Length(min=MIN_PASSWORD, max=1024, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo("password", "The two passwords differ: type the same one twice."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create user")


class RoleForm(FlaskForm):  # type: ignore[misc]
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[InputRequired("Pick a role.")])


class CreateKeyForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        "Name",
        validators=[
            InputRequired("Name the key after the application that will use it."),
            Length(max=100),
        ],
        render_kw={"autocomplete": "off"},
    )
    scopes = MultiCheckboxField(
        "Scopes",
        choices=[SelectChoice(s) for s in SCOPES],
        validators=[InputRequired("Choose at least one scope.")],
    )
    submit = SubmitField("Create API key")


class KillSwitchForm(FlaskForm):  # type: ignore[misc]
    state = StringField(
        "State",
        validators=[
            InputRequired("Say whether to turn the kill switch on or off."),
            AnyOf(("on", "off"), message="The kill switch is either on or off."),
        ],
    )
