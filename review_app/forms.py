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

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import SelectMultipleField  # type: ignore[import-untyped]
from wtforms.widgets import CheckboxInput, ListWidget  # type: ignore[import-untyped]

from rules.errors import RulebookError

__all__ = ["EmptyForm", "MultiCheckboxField", "apply_problems", "status_for"]


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
