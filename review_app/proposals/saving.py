"""The editor's request handling: show the form, add a condition row, or save.

Saving sends the operations the form describes (or, with "Save the JSON operations", the
advanced JSON field's) to :func:`proposer.edit_proposal` with the signed-in analyst as the
editor; the service re-checks the candidate and re-runs the backtest in the same
transaction, or raises with located problems that are placed on the fields and nothing is
written. A proposal changed by someone else since the editor was opened is not overwritten.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from proposer import (
    InvalidProposalError,
    ProposalRecord,
    ProposalStateError,
    edit_proposal,
    get_proposal,
)
from review_app.access import actor
from review_app.proposals.editing import (
    FormMismatch,
    check_shape,
    form_data,
    form_operations,
    json_operations,
    parse_citations,
    prepare,
)
from review_app.proposals.forms import EditForm, edit_form_class
from review_app.proposals.pages import edit_page
from review_app.proposals.placing import place_problems, problem_text
from review_app.web import when
from rules.core.document import Document
from rules.store.extension import database
from rules.store.versions import get_version

__all__ = ["save_edit"]


def _fresh(record: ProposalRecord, base: Document) -> EditForm:
    form = edit_form_class(base)(formdata=None, data=form_data(record))
    prepare(form, record, base)
    return form


def _add_condition(form: EditForm, record: ProposalRecord, base: Document) -> bool:
    """If a rule's "Add a condition" was pressed: one more empty row on that rule."""
    pressed = [entry.form for entry in form.rules if entry.form.add_condition.data]
    for rule in pressed:
        if rule.shape.data in ("none", "leaf"):
            rule.shape.data = "all" if rule.conditions.entries else "leaf"
        rule.conditions.append_entry()
    if pressed:
        prepare(form, record, base)
    return bool(pressed)


def _saved_message(before: ProposalRecord, after: ProposalRecord) -> str:
    report = (after.evidence or {}).get("backtest") or {}
    text = (
        f"Saved proposal {after.id}. The candidate was re-checked and the backtest re-run: "
        f"{report.get('changed', 0):,} of {report.get('cases', 0):,} replayed decisions "
        f"change; impact {after.impact}."
    )
    if before.approvals:
        text += " The approvals given before were cleared: it needs approving again."
    return text


def _save(form: EditForm, record: ProposalRecord, base: Document) -> Response | None:
    """Save, or leave the errors on the form and return None."""
    json_mode = bool(form.save_json.data)
    ops_ok, operations = json_operations(form) if json_mode else (True, None)
    if not json_mode:
        operations = form_operations(form, record, base)
        ops_ok = operations is not None
    cited = parse_citations(form)
    if not ops_ok or cited is None:
        return None
    try:
        with database().session() as s:
            saved = edit_proposal(
                s,
                record.id,
                operations=operations,
                rationale=form.rationale.data,
                citations=cited,
                editor=actor(),
                title=(form.title.data or "").strip() or None,
            )
    except InvalidProposalError as exc:
        place_problems(form, exc.problems, json_mode)
        if not exc.problems:
            form.form_errors.append(str(exc.args[0]))
        return None
    except ProposalStateError as exc:
        form.form_errors.extend([str(exc.args[0]), *(problem_text(p) for p in exc.problems)])
        return None
    flash(_saved_message(record, saved), "success")
    return redirect(url_for("proposals.show", proposal_id=record.id))


def save_edit(proposal_id: int) -> Response | tuple[str, int]:
    """GET: the editor; POST: add a condition row, or save."""
    with database().session() as s:
        record = get_proposal(s, proposal_id)
        base = get_version(s, record.ruleset, record.base).document
    if not record.is_open:
        flash(
            f"Proposal {proposal_id} is {record.status}: only a draft or submitted proposal "
            "can be edited.",
            "warning",
        )
        return redirect(url_for("proposals.show", proposal_id=proposal_id))
    if request.method == "GET":
        return edit_page(_fresh(record, base), record, base, 200)
    form = edit_form_class(base)()
    try:
        check_shape(form, record)
    except FormMismatch:
        fresh = _fresh(record, base)
        fresh.form_errors.append(
            f"Proposal {proposal_id} changed since this editor was opened: it no longer has "
            "the operations your form edits. The editor now shows the current proposal; make "
            "your changes again."
        )
        return edit_page(fresh, record, base, 409)
    prepare(form, record, base)
    if _add_condition(form, record, base):
        return edit_page(form, record, base, 200)
    if not form.validate_on_submit():
        return edit_page(form, record, base, 422)
    if form.stamp.data != record.updated_at.isoformat():
        form.stamp.data = record.updated_at.isoformat()
        form.form_errors.append(
            f"Proposal {proposal_id} was changed by someone else at {when(record.updated_at)}, "
            "after you opened the editor. Your changes are still below: compare them with "
            "the proposal's page, then save again to replace that version."
        )
        return edit_page(form, record, base, 409)
    return _save(form, record, base) or edit_page(form, record, base, 422)
