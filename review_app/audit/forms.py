"""The audit log's filter form (a GET form: no CSRF, nothing changes)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import SelectField, StringField  # type: ignore[import-untyped]
from wtforms.validators import Length, Optional, ValidationError  # type: ignore[import-untyped]

from review_app.forms import DayField

__all__ = ["FilterForm"]


class FilterForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    class Meta:
        csrf = False

    action = SelectField("Action", validators=[Optional()], validate_choice=False)
    actor = StringField(
        "Actor", validators=[Optional(), Length(max=100)], render_kw={"spellcheck": "false"}
    )
    subject = StringField(
        "Subject", validators=[Optional(), Length(max=200)], render_kw={"spellcheck": "false"}
    )
    start = DayField("From (UTC)")
    end = DayField("To (UTC)")

    def validate_end(self, field: Any) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date: swap them or clear one.")
