"""``/rulesets/<name>/scenarios``: a ruleset's test scenarios and how each fares under the
active version; analysts add, change and remove them (:mod:`rules.store.scenarios`, an audit
event each). Reached from a proposal's dossier (``?proposal=ID``), a change is made in that
proposal's review: checked against its candidate, recorded with the proposal, and shown to the
approvers in the dossier.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from review_app.access import actor
from review_app.forms import EmptyForm
from review_app.scenarios.forms import ScenarioForm, json_object
from rules.errors import ConflictError, InvalidRequestError, NotFoundError
from rules.store import scenarios, versions
from rules.store.extension import database

__all__ = ["bp"]

bp = Blueprint("scenarios", __name__, url_prefix="/rulesets/<name>/scenarios")


def _proposal() -> int | None:
    text = request.values.get("proposal_id") or request.args.get("proposal")
    return int(text) if text and text.isdigit() else None


def _back(name: str, proposal_id: int | None) -> Response:
    if proposal_id is not None:
        return redirect(url_for("proposals.show", proposal_id=proposal_id) + "#scenarios")
    return redirect(url_for("scenarios.index", name=name))


def _index(name: str, form: ScenarioForm | None = None, status: int = 200) -> tuple[str, int]:
    with database().session() as s:
        ruleset = versions.get_ruleset(s, name)
        found = scenarios.list_scenarios(s, name)
        outcomes = {o.id: o for o in scenarios.run_ruleset_scenarios(s, name)}
    page = render_template(
        "scenarios/index.html",
        ruleset=ruleset,
        scenarios=found,
        outcomes=outcomes,
        form=form or ScenarioForm(formdata=None),
        button=EmptyForm(formdata=None),
        as_json=lambda v: json.dumps(v, ensure_ascii=False),
    )
    return page, status


@bp.get("")
def index(name: str) -> tuple[str, int]:
    """The scenarios, each passing or failing under the active version."""
    return _index(name)


def _service_errors(form: ScenarioForm, exc: InvalidRequestError) -> None:
    for p in exc.problems:
        target = {"facts": form.facts, "expect": form.expect, "id": form.scenario_id}.get(
            p.location.split(".")[0], form.note
        )
        hint = f" (did you mean {p.suggestion!r}?)" if p.suggestion else ""
        target.errors = [*target.errors, f"{p.location}: {p.message}{hint}"]


@bp.post("")
def add(name: str) -> Response | tuple[str, int]:
    """Add a scenario."""
    form = ScenarioForm()
    if not form.validate_on_submit():
        return _index(name, form, 422)
    try:
        with database().session() as s:
            done = scenarios.add_scenario(
                s,
                name,
                json_object(form.facts.data),
                json_object(form.expect.data),
                actor=actor(),
                key=form.scenario_id.data or None,
                note=form.note.data or None,
            )
    except InvalidRequestError as exc:
        _service_errors(form, exc)
        return _index(name, form, 422)
    except ConflictError as exc:
        form.scenario_id.errors = [str(exc.args[0])]
        return _index(name, form, 409)
    flash(f"Scenario {done.id} is added to {name}.", "success")
    return redirect(url_for("scenarios.index", name=name))


def _edit_page(name: str, key: str, form: ScenarioForm, status: int) -> tuple[str, int]:
    proposal_id = _proposal()
    return render_template(
        "scenarios/edit.html", name=name, key=key, form=form, proposal_id=proposal_id
    ), status


@bp.route("/<key>/edit", methods=["GET", "POST"])
def edit(name: str, key: str) -> Response | tuple[str, int]:
    """Change a scenario (in a proposal's review with ``?proposal=ID``)."""
    proposal_id = _proposal()
    if request.method == "GET":
        with database().session() as s:
            found = {x.id: x for x in scenarios.list_scenarios(s, name)}
        if key not in found:
            abort(404)
        item = found[key]
        form = ScenarioForm(
            formdata=None,
            scenario_id=key,
            facts=json.dumps(item.facts, indent=2, ensure_ascii=False),
            expect=json.dumps(item.expect, indent=2, ensure_ascii=False),
            note=item.note or "",
            proposal_id=proposal_id or "",
        )
        return _edit_page(name, key, form, 200)
    form = ScenarioForm()
    if not form.validate_on_submit():
        return _edit_page(name, key, form, 422)
    try:
        with database().session() as s:
            scenarios.update_scenario(
                s,
                name,
                key,
                json_object(form.facts.data),
                json_object(form.expect.data),
                actor=actor(),
                note=form.note.data or None,
                proposal_id=proposal_id,
            )
    except InvalidRequestError as exc:
        _service_errors(form, exc)
        return _edit_page(name, key, form, 422)
    except (NotFoundError, ConflictError) as exc:
        flash(str(exc.args[0]), "error")
        return _edit_page(name, key, form, exc.status or 409)
    where = f" in the review of proposal {proposal_id}" if proposal_id else ""
    flash(f"Scenario {key} is changed{where}; the change is recorded under your name.", "success")
    return _back(name, proposal_id)


@bp.post("/<key>/remove")
def remove(name: str, key: str) -> Response:
    """Remove a scenario."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    proposal_id = _proposal()
    try:
        with database().session() as s:
            scenarios.remove_scenario(s, name, key, actor=actor(), proposal_id=proposal_id)
    except NotFoundError:
        abort(404)
    flash(f"Scenario {key} is removed from {name}.", "success")
    return _back(name, proposal_id)
