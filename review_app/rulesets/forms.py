"""The rulesets pages' forms: two GET forms that only read (which version was active at a
time; which two versions to compare) and the activation form (a POST)."""

from __future__ import annotations

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import DateTimeLocalField, SelectField, StringField  # type: ignore[import-untyped]
from wtforms.validators import InputRequired, Length, Optional  # type: ignore[import-untyped]

__all__ = ["NOTE_MAX", "ActivateForm", "ActiveAtForm", "DiffForm"]

NOTE_MAX = 1000


class ActiveAtForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    """``?at=2026-01-02T13:04:05``: read as UTC."""

    class Meta:
        csrf = False

    at = DateTimeLocalField(
        "Time (UTC)",
        format=[f"%Y-%m-%d{t}%H:%M{s}" for t in "T " for s in (":%S.%f", ":%S", "")],
        validators=[InputRequired(message="Give a date and time, e.g. 2026-01-02T13:04.")],
        render_kw={"step": "1"},
    )


class DiffForm(FlaskForm):  # type: ignore[misc]
    """``?a=N&b=M``: the versions to compare (choices are set by the view)."""

    class Meta:
        csrf = False

    a = SelectField("From version", coerce=int, validate_choice=False, validators=[InputRequired()])
    b = SelectField("To version", coerce=int, validate_choice=False, validators=[InputRequired()])


class ActivateForm(FlaskForm):  # type: ignore[misc]
    note = StringField(
        "Note",
        validators=[
            Optional(),
            Length(max=NOTE_MAX, message=f"Keep the note to {NOTE_MAX} characters or fewer."),
        ],
    )
