"""The decisions pages' forms: the search filters (GET) and the resolution form, whose fields
are the decision's outputs (a select for an output with allowed values, else a text field).

The resolution form checks nothing about the values themselves: the service does
(:func:`rules.store.decisions.resolve`), and its located problems (``outputs.outcome``) are put on
the field they name (``output_outcome``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import (  # type: ignore[import-untyped]
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (  # type: ignore[import-untyped]
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from review_app.forms import DayField
from review_app.rulesets.table import value_text
from rules.api.limits import MAX_ID
from rules.core.document import Output, Scalar
from rules.store.models import SOURCES

__all__ = [
    "NOTE_MAX",
    "OUTPUT_PREFIX",
    "ResolveForm",
    "SearchForm",
    "output_values",
    "resolve_form",
    "yes_no",
]

NOTE_MAX = 4000  # what rules.store.decisions.resolve accepts
OUTPUT_PREFIX = "output_"
TRI = [SelectChoice("", "Any"), SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


class SearchForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    class Meta:
        csrf = False

    ruleset = SelectField("Ruleset", validators=[Optional()], validate_choice=False)
    decision_id = IntegerField(
        "Decision id",
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_ID, message=f"A decision id is from 1 to {MAX_ID}."),
        ],
    )
    exception = SelectField("Exception", choices=TRI, validators=[Optional()])
    resolved = SelectField("Resolved", choices=TRI, validators=[Optional()])
    override = SelectField("Override", choices=TRI, validators=[Optional()])
    source = SelectField(
        "Source",
        choices=[SelectChoice("", "Any source"), *(SelectChoice(s) for s in SOURCES)],
        validators=[Optional()],
    )
    start = DayField("From (UTC)")
    end = DayField("To (UTC)")

    def validate_end(self, field: Any) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date: swap them or clear one.")


class ResolveForm(FlaskForm):  # type: ignore[misc]
    """Fields ``output_<name>`` per output and ``note`` are added by :func:`resolve_form`."""

    def output_fields(self) -> list[Any]:
        return [f for f in self if f.name.startswith(OUTPUT_PREFIX)]


def _field(output: Output) -> Any:
    label = output.name
    if output.values is not None or output.type == "boolean":
        values = output.values if output.values is not None else (True, False)
        choices = [SelectChoice("", "— not set —")] + [SelectChoice(_option(v)) for v in values]
        return SelectField(label, choices=choices, validators=[Optional()], validate_choice=False)
    return StringField(label, validators=[Optional(), Length(max=1000)])


def resolve_form(outputs: Sequence[Output], **kwargs: Any) -> ResolveForm:
    """A resolution form for a version's outputs (``kwargs`` go to the form)."""
    fields: dict[str, Any] = {f"{OUTPUT_PREFIX}{o.name}": _field(o) for o in outputs}
    fields["note"] = TextAreaField(
        "Note on this resolution",
        validators=[
            Optional(),
            Length(max=NOTE_MAX, message=f"Keep the note to {NOTE_MAX:,} characters or fewer."),
        ],
    )
    form_class = type("BoundResolveForm", (ResolveForm,), fields)
    form: ResolveForm = form_class(**kwargs)
    return form


def _option(value: Scalar) -> str:
    return value if isinstance(value, str) else value_text(value)


def output_values(form: ResolveForm, outputs: Sequence[Output]) -> dict[str, object]:
    """The outputs the person set, typed for the service; a value that does not convert is
    passed as typed text, for the service to refuse with a located problem."""
    chosen: dict[str, object] = {}
    for output in outputs:
        raw = form[f"{OUTPUT_PREFIX}{output.name}"].data
        if raw is None or not str(raw).strip():
            continue
        chosen[output.name] = _typed(output, str(raw).strip())
    return chosen


def _typed(output: Output, raw: str) -> object:
    if output.values is not None:
        return next((v for v in output.values if _option(v) == raw), raw)
    if output.type == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if output.type == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    if output.type == "number":
        try:
            number = float(raw)
        except ValueError:
            return raw
        if not math.isfinite(number):
            return raw
        return int(number) if number.is_integer() and "." not in raw else number
    return raw
