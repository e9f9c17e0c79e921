"""``/``: a short page listing what the signed-in user's role can do.

When the proposals pages exist, most roles land there instead: change :func:`index` to
redirect (keep the page for roles without a natural landing page, e.g. admin)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from review_app.access import can, current_user

__all__ = ["LANDS_ON_PROPOSALS", "TASKS", "Task", "bp"]

bp = Blueprint("home", __name__)


@dataclass(frozen=True, slots=True)
class Task:
    endpoint: str
    title: str
    description: str


# What a role can do, shown when the role may use the endpoint and the endpoint exists.
TASKS = (
    Task("proposals.index", "Review proposals", "Proposed rule changes with their evidence."),
    Task("rulesets.index", "Rulesets", "Rule versions, what is active, and their history."),
    Task("audit.index", "Audit log", "Every recorded change, the chain's integrity, exports."),
    Task("admin.users", "Users", "Who may sign in, and with which role."),
    Task("admin.apikeys", "API keys", "Keys the applications call the decision API with."),
    Task("admin.llm", "LLM proposer", "The kill switch for the LLM proposer."),
)


# Roles whose work starts at the proposals queue; the others (admin) get the task page.
LANDS_ON_PROPOSALS = frozenset({"analyst", "approver", "auditor"})


@bp.get("/")
def index() -> str | Response:
    """The signed-in user's starting page."""
    user = current_user()
    endpoints = set(current_app.view_functions)
    if user is not None and user.role in LANDS_ON_PROPOSALS and "proposals.index" in endpoints:
        return redirect(url_for("proposals.index"))
    tasks = [t for t in TASKS if t.endpoint in endpoints and can(t.endpoint)]
    return render_template("home/index.html", tasks=tasks, user=current_user())
