"""``/proposals``: the review queue, each proposal's evidence dossier, the editor, and the
review decisions (DESIGN §5, §6).

Every state change is a POST with CSRF, allowed by role in ``review_app/access.py`` and
checked again by the proposal service (four eyes, status, stale base), in one transaction
in which the service appends its audit event. A refusal is shown on the dossier with its
status (403 four eyes, 409 wrong status or stale base, 422 a missing reason), never as a
server error. Accepting creates the next version; activating it (or rolling back to any
earlier version) is a separate recorded step offered on the same page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice  # type: ignore[import-untyped]

from proposer import (
    InvalidProposalError,
    ProposalStateError,
    accept_proposal,
    get_proposal,
    list_proposals,
    rebase_proposal,
    reject_proposal,
    submit_proposal,
)
from review_app.access import actor
from review_app.forms import MAX_PAGE, EmptyForm, query_int
from review_app.proposals.forms import AcceptForm, ActivateForm, FilterForm, RejectForm
from review_app.proposals.pages import dossier_page, queue_row, version_choices
from review_app.proposals.saving import save_edit
from rules.errors import RulebookError, ServiceError
from rules.store import versions
from rules.store.extension import database
from rules.store.models import PROPOSAL_STATUSES

__all__ = ["PAGE_SIZE", "bp"]

bp = Blueprint("proposals", __name__, url_prefix="/proposals")

PAGE_SIZE = 25
FILTERS = ("ruleset", "status", "author", "impact")


def _filter_args() -> dict[str, Any]:
    return {k: v for k in FILTERS if (v := request.args.get(k, "").strip())}


@bp.get("")
def index() -> tuple[str, int]:
    """The queue: proposals newest first, filtered by ruleset, status, author and impact."""
    form = FilterForm(formdata=request.args)
    page = query_int("page", 1, low=1, high=MAX_PAGE) or 1
    with database().session() as s:
        names = [r.name for r in versions.list_rulesets(s)]
        form.ruleset.choices = [SelectChoice("", "Any ruleset"), *map(SelectChoice, names)]
        form.status.choices = [
            SelectChoice("", "Any status"),
            *map(SelectChoice, PROPOSAL_STATUSES),
        ]
        valid = form.validate()
        filters = {k: v for k, v in _filter_args().items() if valid}
        found = list_proposals(s, **filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    args = _filter_args()
    html = render_template(
        "proposals/index.html",
        form=form,
        rows=[queue_row(r) for r in found[:PAGE_SIZE]],
        page=page,
        filtered=bool(args),
        newer_url=url_for("proposals.index", **args, page=page - 1) if page > 1 else None,
        older_url=url_for("proposals.index", **args, page=page + 1)
        if len(found) > PAGE_SIZE
        else None,
    )
    return html, 200 if valid else 422


@bp.get("/<int:proposal_id>")
def show(proposal_id: int) -> tuple[str, int]:
    """The evidence dossier, and what the signed-in user may do with the proposal."""
    return dossier_page(proposal_id)


@bp.route("/<int:proposal_id>/edit", methods=["GET", "POST"])
def edit(proposal_id: int) -> Response | tuple[str, int]:
    """Edit the rules the proposal adds or updates, its rationale and citations; saving
    re-checks the candidate and re-runs the backtest."""
    return save_edit(proposal_id)


def _to_dossier(proposal_id: int) -> Response:
    return redirect(url_for("proposals.show", proposal_id=proposal_id))


def _refused(proposal_id: int, exc: RulebookError, **forms: Any) -> tuple[str, int]:
    """The dossier again, with the service's refusal at the top and its status; an error that
    is no refusal (no status) is left to the error handler."""
    if exc.status is None:
        raise exc
    message = str(exc.args[0]) if exc.args else "The request was refused."
    details = "; ".join(p.message for p in exc.problems if p.message not in message)
    flash(message[:1].upper() + message[1:] + (f" ({details})" if details else "") + ".", "error")
    return dossier_page(proposal_id, exc.status, **forms)


def _button() -> None:
    if not EmptyForm().validate_on_submit():  # CSRF is also checked before the view runs
        abort(400)


@bp.post("/<int:proposal_id>/submit")
def submit(proposal_id: int) -> Response | tuple[str, int]:
    """Submit a draft for review (its submitter may not approve it)."""
    _button()
    try:
        with database().session() as s:
            submit_proposal(s, proposal_id, actor())
    except RulebookError as exc:
        return _refused(proposal_id, exc)
    flash(f"Proposal {proposal_id} is submitted for review by an approver.", "success")
    return _to_dossier(proposal_id)


@bp.post("/<int:proposal_id>/accept")
def accept(proposal_id: int) -> Response | tuple[str, int]:
    """Approve the proposal; with enough approvers, accept it into the next version."""
    form = AcceptForm()
    if not form.validate_on_submit():
        return dossier_page(proposal_id, 422, accept=form)
    try:
        with database().session() as s:
            done = accept_proposal(s, proposal_id, approver=actor(), note=form.note.data or None)
    except RulebookError as exc:
        return _refused(proposal_id, exc, accept=form)
    if done.status == "accepted":
        flash(
            f"Proposal {proposal_id} is accepted: version {done.accepted_number} of "
            f"{done.ruleset} is created. It is not active yet: activate it below when it "
            "should start deciding.",
            "success",
        )
    else:
        flash(
            f"Your approval of proposal {proposal_id} is recorded ({len(done.approvals)} of "
            f"{done.approvers_needed}). It is high impact: a second, different approver must "
            "accept it too.",
            "info",
        )
    return _to_dossier(proposal_id)


@bp.post("/<int:proposal_id>/reject")
def reject(proposal_id: int) -> Response | tuple[str, int]:
    """Reject the proposal, with a reason."""
    form = RejectForm()
    if not form.validate_on_submit():
        return dossier_page(proposal_id, 422, reject=form)
    try:
        with database().session() as s:
            reject_proposal(s, proposal_id, actor=actor(), reason=form.reason.data)
    except InvalidProposalError as exc:
        form.reason.errors = [p.message for p in exc.problems] or [str(exc.args[0])]
        return dossier_page(proposal_id, 422, reject=form)
    except RulebookError as exc:
        return _refused(proposal_id, exc, reject=form)
    flash(f"Proposal {proposal_id} is rejected. The reason is kept with it.", "success")
    return _to_dossier(proposal_id)


@bp.post("/<int:proposal_id>/rebase")
def rebase(proposal_id: int) -> Response | tuple[str, int]:
    """Re-apply the proposal to the ruleset's latest version, with fresh evidence."""
    _button()
    try:
        with database().session() as s:
            seen = get_proposal(s, proposal_id)
            latest = versions.get_ruleset(s, seen.ruleset).latest_number
            if seen.is_open and seen.base == latest:
                raise ProposalStateError(
                    f"proposal {proposal_id} is already based on the latest version, "
                    f"{latest}: there is nothing to rebase"
                )
            done = rebase_proposal(s, proposal_id, actor=actor())
    except RulebookError as exc:
        return _refused(proposal_id, exc)
    report = (done.evidence or {}).get("backtest") or {}
    flash(
        f"Proposal {proposal_id} is rebased on version {done.base}. The evidence was "
        f"recomputed: {report.get('changed', 0):,} of {report.get('cases', 0):,} replayed "
        f"decisions change; impact {done.impact}. Approvals given before were cleared.",
        "success",
    )
    return _to_dossier(proposal_id)


@bp.post("/<int:proposal_id>/activate")
def activate(proposal_id: int) -> Response | tuple[str, int]:
    """Activate the version this proposal created, or roll back to an earlier one."""
    with database().session() as s:
        record = get_proposal(s, proposal_id)
        known = versions.list_versions(s, record.ruleset)
    form = ActivateForm()
    form.version.choices = version_choices(known, record.accepted_number)
    if record.status != "accepted":
        flash(
            f"Proposal {proposal_id} is {record.status}: versions are activated from an "
            "accepted proposal's page.",
            "error",
        )
        return dossier_page(proposal_id, 409, activate=form)
    if not form.validate_on_submit():
        return dossier_page(proposal_id, 422, activate=form)
    try:
        with database().session() as s:
            done = versions.activate(
                s, record.ruleset, form.version.data, actor(), form.activation_note.data or None
            )
    except ServiceError as exc:
        return _refused(proposal_id, exc, activate=form)
    was = f" (version {done.previous} was)" if done.previous is not None else ""
    flash(
        f"Version {done.number} of {done.ruleset} is now active{was}. New decisions use it.",
        "success",
    )
    return _to_dossier(proposal_id)
