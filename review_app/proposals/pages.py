"""What the proposals pages render: the queue's rows, the dossier with the actions the
signed-in user may take on it, and the editor page.

Views call these after acting; every figure is computed here, so templates only lay out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, render_template, request, url_for
from sqlalchemy.orm import Session
from wtforms import SelectChoice  # type: ignore[import-untyped]

from proposer import AddRule, ProposalRecord, UpdateRule, get_proposal
from proposer.runs import run_of
from review_app.access import PII_READERS, can, current_user
from review_app.forms import MAX_PAGE, EmptyForm, query_int
from review_app.proposals.dossier import Dossier, build
from review_app.proposals.forms import AcceptForm, ActivateForm, EditForm, RejectForm
from review_app.proposals.placing import error_links
from review_app.proposals.ruletext import document_yaml
from review_app.proposals.trials import trials_view
from rules.core.document import Document
from rules.errors import NotFoundError
from rules.store.decisions import get_decision
from rules.store.extension import database
from rules.store.versions import VersionInfo, get_ruleset, get_version, list_versions

__all__ = [
    "Actions",
    "QueueRow",
    "actions_for",
    "decision_url",
    "dossier_page",
    "edit_page",
    "queue_row",
    "version_choices",
    "version_url",
]


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    title: str
    ruleset: str
    base: int
    status: str
    impact: str | None
    author: str
    verified: int
    cited: int
    changed: int | None  # decisions with any output changed
    outcomes: int | None  # decisions whose review output (the impact class's count) changed
    cases: int | None
    updated_at: datetime


def queue_row(record: ProposalRecord) -> QueueRow:
    evidence = record.evidence or {}
    cited = evidence.get("citations") or {}
    report = evidence.get("backtest") or {}
    return QueueRow(
        id=record.id,
        title=record.title,
        ruleset=record.ruleset,
        base=record.base,
        status=record.status,
        impact=record.impact,
        author=record.author,
        verified=int(cited.get("verified", 0)),
        cited=int(cited.get("total", len(record.citations))),
        changed=report.get("changed"),
        outcomes=(evidence.get("impact") or {}).get("changed"),
        cases=report.get("cases"),
        updated_at=record.updated_at,
    )


@dataclass(frozen=True, slots=True)
class Actions:
    """What the current user may do on a proposal now; ``notes`` say why an action their
    role has is not offered (four eyes, a stale base, a draft)."""

    edit: bool
    submit: bool
    accept: bool
    reject: bool
    rebase: bool
    activate: bool
    notes: tuple[str, ...]

    @property
    def any(self) -> bool:
        return any((self.edit, self.submit, self.accept, self.reject, self.rebase, self.activate))


def _accept_notes(dossier: Dossier, me: str) -> list[str]:
    record = dossier.record
    notes = []
    if record.status == "draft":
        notes.append("It is a draft: an analyst submits it for review before it can be accepted.")
    if me in record.participants:
        notes.append(
            f"You ({me}) took part in this proposal, as its author, an editor or its "
            "submitter, so you may not approve it (four eyes): another approver must."
        )
    elif any(a.approver == me for a in record.approvals):
        notes.append(
            "You have approved it already; it is high impact and needs a second, different "
            "approver."
        )
    if dossier.stale:
        notes.append(
            f"Its base, version {record.base}, is no longer the latest (version "
            f"{dossier.latest}): rebase it first. The evidence is recomputed on the latest "
            "version and approvals start again."
        )
    return notes


def actions_for(dossier: Dossier) -> Actions:
    """The buttons the dossier offers the current user (the server checks again on POST)."""
    record = dossier.record
    user = current_user()
    me = f"user:{user.username}" if user is not None else ""
    notes = _accept_notes(dossier, me) if can("proposals.accept") and record.is_open else []
    return Actions(
        edit=can("proposals.edit") and record.is_open,
        submit=can("proposals.submit") and record.status == "draft",
        accept=can("proposals.accept") and record.status == "submitted" and not notes,
        reject=can("proposals.reject") and record.is_open,
        rebase=can("proposals.rebase") and dossier.stale,
        activate=can("proposals.activate") and record.status == "accepted",
        notes=tuple(notes),
    )


def version_choices(versions: Sequence[VersionInfo], accepted: int | None) -> list[SelectChoice]:
    """The versions one may activate, newest first, saying which is active and which this
    proposal created (activating an older one is a rollback)."""
    choices = []
    for v in sorted(versions, key=lambda v: -v.number):
        notes = []
        if v.number == accepted:
            notes.append("created by this proposal")
        if v.active:
            notes.append("active now")
        label = f"Version {v.number}" + (f" ({', '.join(notes)})" if notes else "")
        choices.append(SelectChoice(v.number, label))
    return choices


def decision_url(decision_id: int) -> str:
    """The page of a decision (``/decisions/<id>``, DESIGN §6)."""
    if "decisions.show" in current_app.view_functions:
        return url_for("decisions.show", decision_id=decision_id)
    return f"{request.script_root}/decisions/{decision_id}"


def version_url(name: str, number: int) -> str | None:
    """The page of a ruleset's version, when the rulesets pages exist."""
    if "rulesets.version" in current_app.view_functions:
        return url_for("rulesets.version", name=name, number=number)
    return None


def _facts(session: Session, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    found: dict[int, Mapping[str, Any]] = {}
    for decision_id in ids:
        try:
            found[decision_id] = get_decision(session, decision_id).facts
        except NotFoundError:
            continue
    return found


def dossier_page(
    proposal_id: int,
    status: int = 200,
    *,
    accept: AcceptForm | None = None,
    reject: RejectForm | None = None,
    activate: ActivateForm | None = None,
) -> tuple[str, int]:
    """The proposal's page; forms given carry what was just posted (with their errors)."""
    user = current_user()
    page = query_int("page", 1, low=1, high=MAX_PAGE) or 1
    with database().session() as s:
        record = get_proposal(s, proposal_id)
        info = get_ruleset(s, record.ruleset)
        base = get_version(s, record.ruleset, record.base).document
        dossier = build(
            record,
            base,
            latest=info.latest_number,
            active=info.active_number,
            page=page,
            facts_of=lambda ids: _facts(s, ids),
            pii_reader=user is not None and user.role in PII_READERS,
            run=run_of(s, record),
            proposal_url=lambda n: url_for("proposals.show", proposal_id=n),
        )
        versions = list_versions(s, record.ruleset) if record.status == "accepted" else []
        trials = trials_view(s, record)
    if activate is None:
        activate = ActivateForm(formdata=None, version=record.accepted_number)
    activate.version.choices = version_choices(versions, record.accepted_number)
    html = render_template(
        "proposals/show.html",
        d=dossier,
        actions=actions_for(dossier),
        button=EmptyForm(formdata=None),
        accept_form=accept or AcceptForm(formdata=None),
        reject_form=reject or RejectForm(formdata=None),
        activate_form=activate,
        decision_url=decision_url,
        version_url=version_url,
        trials=trials,
    )
    return html, status


def edit_page(
    form: EditForm, record: ProposalRecord, base: Document, status: int
) -> tuple[str, int]:
    """The editor, with every field error linked from the summary at the top."""
    return render_template(
        "proposals/edit.html",
        form=form,
        record=record,
        base=base,
        inputs=base.inputs,
        others=[op for op in record.operations if not isinstance(op, AddRule | UpdateRule)],
        links=error_links(form),
        candidate_yaml=document_yaml(record.candidate),
    ), status
