"""What every form of the review app shares: the CSRF-only button form and service errors
placed on the fields they name.

Views go validate -> act -> commit -> flash -> redirect::

    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            with database().session() as s:          # one transaction
                accounts.create_user(s, ..., actor())  # the service appends the audit event
        except InvalidRequestError as exc:
            apply_problems(form, exc)               # each Problem on its field
        else:
            flash("Created user ann (analyst).", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/users.html", form=form), 422 if form.errors else 200
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import DateField, SelectMultipleField  # type: ignore[import-untyped]
from wtforms.validators import Optional, ValidationError  # type: ignore[import-untyped]
from wtforms.widgets import CheckboxInput, ListWidget  # type: ignore[import-untyped]

from rules.api.limits import LAST_DATE, MAX_DEPTH, MAX_ID, json_problems
from rules.errors import Problem, RulebookError

MAX_PAGE = 2**31 - 1  # a page number (its offset must still be a 64-bit integer)

__all__ = [
    "MAX_PAGE",
    "DayField",
    "EmptyForm",
    "MultiCheckboxField",
    "apply_problems",
    "json_field",
    "query_int",
    "status_for",
]


class EmptyForm(FlaskForm):  # type: ignore[misc]  # flask_wtf is untyped
    """A form with nothing but its CSRF token: a button that changes state (microblog)."""


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    """A set of checkboxes (render with the ``choices`` macro)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def apply_problems(form: FlaskForm, exc: RulebookError) -> None:
    """Put each of ``exc``'s problems on the field its location names (``rules[3].when`` goes
    on field ``rules``); problems no field owns, and the message itself when no problem is
    placed, become form-level errors (shown above the form by ``form_errors``)."""
    for problem in exc.problems:
        name = problem.location.split(".")[0].split("[")[0]
        field = form._fields.get(name) if name else None
        text = problem.message + (
            f" (did you mean {problem.suggestion!r}?)" if problem.suggestion else ""
        )
        if field is not None and name != "csrf_token":
            field.errors = [*field.errors, text]
        else:
            form.form_errors.append(f"{problem.location}: {text}" if problem.location else text)
    if not exc.problems:
        form.form_errors.append(str(exc.args[0]) if exc.args else str(exc))


def status_for(form: FlaskForm) -> int:
    """200 for a fresh or valid form, 422 when it shows errors."""
    return 422 if form.errors else 200


def _on_the_calendar(form: FlaskForm, field: Any) -> None:
    if field.data is not None and field.data > LAST_DATE:
        raise ValidationError(f"Pick a day up to {LAST_DATE.isoformat()}.")


class DayField(DateField):  # type: ignore[misc]
    """An optional day of a filter, up to :data:`~rules.api.limits.LAST_DATE` (a filter's
    end is the next midnight, which must still be a time)."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, validators=[Optional(), _on_the_calendar], **kwargs)


def query_int(
    name: str, default: int | None = None, low: int = 0, high: int = MAX_ID
) -> int | None:
    """The integer query argument ``name``: ``default`` when it is absent, not a number or
    below ``low``; a number above ``high`` (by default the largest id a column holds) reads
    as ``high`` (so ``?before=`` a huge number means "from the newest")."""
    value = request.args.get(name, type=int)
    if value is None or value < low:
        return default
    return min(value, high)


def json_field(field: Any, text: str) -> tuple[bool, Any]:
    """(ok, the JSON in ``text``); what is wrong goes on ``field``: not JSON, nesting deeper
    than :data:`~rules.api.limits.MAX_DEPTH` levels, text that cannot be stored."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        field.errors = [f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        return False, None
    except RecursionError:
        deep, problems = True, list[Problem]()
    else:
        deep, problems = json_problems(value)
    if deep:
        field.errors = [f"nests deeper than {MAX_DEPTH} levels; write flatter JSON"]
        return False, None
    if problems:
        field.errors = [f"{p.location or 'a value'}: {p.message}" for p in problems]
        return False, None
    return True, value
