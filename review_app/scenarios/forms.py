"""The scenario form: id, facts and expected outputs as JSON objects, and a note."""

from __future__ import annotations

import json
from typing import Any

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import (  # type: ignore[import-untyped]
    HiddenField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import InputRequired, Length, Optional, Regexp  # type: ignore[import-untyped]

from rules.core.scenarios.check import MAX_NOTE

__all__ = ["ScenarioForm", "json_object"]


def json_object(text: str | None) -> dict[str, Any]:
    """The field's JSON object (ValidationError saying what is wrong)."""
    try:
        value = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Not valid JSON: {exc.msg} at column {exc.colno}.") from exc
    if not isinstance(value, dict):
        raise ValidationError('Give a JSON object, e.g. {"outcome": "approve"}.')
    return value


class ScenarioForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    scenario_id = StringField(
        "Scenario id",
        validators=[
            Optional(),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                message="Use letters, digits, '.', '_' or '-' (start with a letter or digit).",
            ),
        ],
    )
    facts = TextAreaField("Facts (JSON object)", validators=[InputRequired()])
    expect = TextAreaField("Expected outputs (JSON object)", validators=[InputRequired()])
    note = TextAreaField(
        "Note",
        validators=[
            Optional(),
            Length(max=MAX_NOTE, message=f"Keep the note to {MAX_NOTE} characters or fewer."),
        ],
    )
    proposal_id = HiddenField()

    def validate_facts(self, field: Any) -> None:
        json_object(field.data)

    def validate_expect(self, field: Any) -> None:
        json_object(field.data)
