"""``/rulesets``: the rulesets, each one's version timeline and activation history, a version
as a readable decision table, two versions compared, and activation (approvers).

Versions are immutable and only accepting a proposal creates one; activating a version (or
rolling back to an older one) is the one change made here, through
:func:`rules.store.versions.activate`, which records the activation and its audit event in the
same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

import yaml
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import SelectChoice  # type: ignore[import-untyped]

from review_app.access import actor
from review_app.forms import status_for
from review_app.rulesets.compare import compare
from review_app.rulesets.forms import NOTE_MAX, ActivateForm, ActiveAtForm, DiffForm
from review_app.rulesets.rates import rates_view
from review_app.rulesets.table import ANY, decision_table, input_uses, value_text
from rules.errors import ConflictError
from rules.store import versions
from rules.store.decisions import counts, rates
from rules.store.extension import database
from rules.store.scenarios import run_ruleset_scenarios
from rules.store.shadow import find_shadow, shadow_report
from rules.store.versions import ActivationInfo, VersionInfo

__all__ = ["bp"]

bp = Blueprint("rulesets", __name__, url_prefix="/rulesets")


@bp.get("")
def index() -> str:
    """Every ruleset with its active and latest version and its open exceptions."""
    with database().session() as s:
        rulesets = versions.list_rulesets(s)
        found = counts.ruleset_counts(s)
    return render_template("rulesets/index.html", rulesets=rulesets, counts=found)


def _active_at(
    form: ActiveAtForm, s: Session, name: str, history: list[ActivationInfo]
) -> tuple[datetime, ActivationInfo | None] | None:
    """The answer to "which version was active at T", when the form asks it validly."""
    if "at" not in request.args or not form.validate():
        return None
    at = form.at.data.replace(tzinfo=UTC)
    number = versions.active_at(s, name, at)
    found = [a for a in history if a.at <= at and a.number == number]
    return at, (found[-1] if number is not None and found else None)


def _show_page(name: str, failed: tuple[int, ActivateForm] | None = None) -> tuple[str, int]:
    form = ActiveAtForm(formdata=request.args if "at" in request.args else None)
    with database().session() as s:
        ruleset = versions.get_ruleset(s, name)
        timeline = versions.list_versions(s, name)
        history = versions.activations(s, name)
        per_version = counts.decisions_per_version(s, name)
        over_time = rates_view(rates.rates(s, name), history)
        answer = _active_at(form, s, name, history)
    diff_form = _diff_form(timeline, from_request=False)
    status = 422 if form.errors else status_for(failed[1]) if failed else 200
    page = render_template(
        "rulesets/show.html",
        ruleset=ruleset,
        timeline=list(reversed(timeline)),
        history=list(reversed(history)),
        current=history[-1] if history else None,
        per_version=per_version,
        rates=over_time,
        at_form=form,
        answer=answer,
        diff_form=diff_form,
        activate_form=ActivateForm(formdata=None),
        failed=failed,
        note_max=NOTE_MAX,
    )
    return page, status


@bp.get("/<name>")
def show(name: str) -> tuple[str, int]:
    """A ruleset's versions, activation history, and "which version was active at T"."""
    return _show_page(name)


def _document_yaml(info: VersionInfo) -> str:
    return yaml.safe_dump(info.document.to_dict(), sort_keys=False, allow_unicode=True)


@bp.get("/<name>/versions/<int:number>")
def version(name: str, number: int) -> str:
    """One version as a decision table, with its inputs, outputs and raw document."""
    with database().session() as s:
        ruleset = versions.get_ruleset(s, name)
        info = versions.get_version(s, name, number)
        outcomes = run_ruleset_scenarios(s, name, version=number)
        shadow_id = find_shadow(s, name, version=number)
        shadow = None if shadow_id is None else shadow_report(s, name, shadow_id)
    doc = info.document
    return render_template(
        "rulesets/version.html",
        ruleset=ruleset,
        version=info,
        doc=doc,
        dt=decision_table(doc),
        used=input_uses(doc),
        document_yaml=_document_yaml(info),
        any_cell=ANY,
        value_text=value_text,
        outcomes=outcomes,
        shadow=shadow,
    )


def _diff_form(timeline: list[VersionInfo], from_request: bool) -> DiffForm:
    """The two versions to compare: from the URL, else the active one and the latest (or
    the latest and its predecessor when the latest is active)."""
    form = DiffForm(formdata=request.args if from_request else None)
    form.a.choices = form.b.choices = [
        SelectChoice(v.number, f"Version {v.number}" + (" (active)" if v.active else ""))
        for v in reversed(timeline)
    ]
    latest = timeline[-1].number
    active = next((v.number for v in timeline if v.active), latest)
    defaults = {"a": active if active != latest else max(latest - 1, 1), "b": latest}
    for field in (form.a, form.b):
        if not (field.raw_data or [""])[0].strip():
            field.data = defaults[field.name]
    return form


def _check_diff_form(form: DiffForm, numbers: set[int]) -> bool:
    """Each chosen version exists; a field-level error names the range otherwise."""
    ok = True
    for field in (form.a, form.b):
        if field.data not in numbers:
            field.errors = [
                f"There is no version {(field.raw_data or ['?'])[0]}: choose one from "
                f"1 to {max(numbers)}."
            ]
            ok = False
    return ok


@bp.get("/<name>/diff")
def diff(name: str) -> tuple[str, int]:
    """What changed between two versions: rules added, removed, changed, moved; settings."""
    with database().session() as s:
        ruleset = versions.get_ruleset(s, name)
        timeline = versions.list_versions(s, name)
        form = _diff_form(timeline, from_request=True)
        if not _check_diff_form(form, {v.number for v in timeline}):
            page = render_template(
                "rulesets/diff.html", ruleset=ruleset, form=form, result=None, comparison=None
            )
            return page, 422
        a, b = int(form.a.data), int(form.b.data)
        result = versions.diff_versions(s, name, a, b)
        docs = {v.number: v.document for v in timeline}
    page = render_template(
        "rulesets/diff.html",
        ruleset=ruleset,
        form=form,
        result=result,
        comparison=compare(result, docs[a], docs[b]),
    )
    return page, 200


@bp.post("/<name>/versions/<int:number>/activate")
def activate(name: str, number: int) -> Response | tuple[str, int]:
    """Make version ``number`` the active one (a rollback when it is older)."""
    form = ActivateForm()
    if not form.validate_on_submit():
        return _show_page(name, failed=(number, form))
    note = (form.note.data or "").strip() or None
    try:
        with database().session() as s:
            done = versions.activate(s, name, number, actor(), note)
    except ConflictError as exc:
        flash(f"Nothing changed: {exc.args[0]}.", "error")
        return redirect(url_for("rulesets.show", name=name))
    if done.previous is not None and done.number < done.previous:
        what = f"Rolled {name} back to version {done.number} (version {done.previous} was active)."
    else:
        was = f" (version {done.previous} was active)" if done.previous is not None else ""
        what = f"Version {done.number} of {name} is now active{was}."
    flash(f"{what} New decisions use version {done.number}.", "success")
    return redirect(url_for("rulesets.show", name=name))
