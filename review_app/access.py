"""Who may use which page: the review app's ONE authorization table (DESIGN §6).

Every endpoint of the review UI is listed in :data:`ACCESS` with the principals allowed to use
it: the four roles and ``anonymous`` (not signed in). A ``before_request`` hook,
:func:`enforce`, checks every request against it, so no view carries its own check and none
can be forgotten:

* an allowed principal reaches the view;
* a signed-out visitor is redirected to ``/login?next=<the page>`` (a POST: to ``/login``,
  with a message to send the form again);
* a signed-in user without the role gets 403;
* an endpoint missing from the table is refused (403, logged) — and :func:`check_complete`
  makes ``create_app`` fail at start-up with the missing names, so it never gets that far.

The API (``/api/v1``, bearer keys with scopes), the health and metrics endpoints and static
files are outside this table (:data:`OUTSIDE`).

The role matrix::

    page                                  analyst approver auditor admin anonymous
    /login                                   yes     yes     yes    yes    yes
    /logout, /  (home), /account/password    yes     yes     yes    yes     -
    proposals, rulesets, decisions (read)    yes     yes     yes    yes     -
    edit / submit proposals                  yes      -       -      -      -
    add / edit / remove test scenarios       yes      -       -      -      -
    accept / reject proposals                 -      yes      -      -      -
    /audit, verify, CSV/JSON export           -       -      yes    yes     -
    /admin/* (users, API keys, kill switch)   -       -       -     yes     -

An auditor changes nothing but their own password: the only other POST an auditor may send
is "verify the chain", which reads. Personal data (inputs marked ``pii``) is shown to
:data:`PII_READERS` only: the analyst "reads everything but PII" and the admin runs the
system without reading case data.

To add a page: give its endpoint a line in :data:`ACCESS` using the role sets below. If a GET
and a POST need different roles, make them two endpoints (views are verbs: ``show``,
``accept``). Templates ask :func:`can` before offering a link or button.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlencode

from flask import Flask, abort, flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

from rules.store.accounts import UserInfo
from rules.store.models import ROLES

__all__ = [
    "ACCESS",
    "ADMINS",
    "ANONYMOUS",
    "APPROVERS",
    "AUDITORS",
    "AUTHORS",
    "OUTSIDE",
    "PII_READERS",
    "PUBLIC",
    "SIGNED_IN",
    "actor",
    "allowed",
    "can",
    "check_complete",
    "current_user",
    "enforce",
    "init_app",
    "missing_endpoints",
    "principal",
]

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
PRINCIPALS = (*ROLES, ANONYMOUS)

PUBLIC = frozenset(PRINCIPALS)
SIGNED_IN = frozenset(ROLES)
AUTHORS = frozenset({"analyst"})
APPROVERS = frozenset({"approver"})
AUDITORS = frozenset({"auditor", "admin"})
ADMINS = frozenset({"admin"})
PII_READERS = frozenset({"approver", "auditor"})

# Blueprints (and the static endpoint) with their own authentication, or none by design.
OUTSIDE = frozenset({"api", "ops", "static"})

ACCESS: Mapping[str, frozenset[str]] = {
    # auth
    "auth.login": PUBLIC,
    "auth.logout": SIGNED_IN,
    "auth.change_password": SIGNED_IN,  # GET+POST /account/password: one's own password
    # home
    "home.index": SIGNED_IN,
    # audit
    "audit.index": AUDITORS,
    "audit.verify": AUDITORS,
    "audit.export": AUDITORS,
    # admin
    "admin.users": ADMINS,
    "admin.create_user": ADMINS,
    "admin.disable_user": ADMINS,
    "admin.enable_user": ADMINS,
    "admin.change_role": ADMINS,
    "admin.reset_password": ADMINS,  # POST /admin/users/<username>/reset-password
    "admin.apikeys": ADMINS,
    "admin.create_apikey": ADMINS,
    "admin.revoke_apikey": ADMINS,
    "admin.llm": ADMINS,
    "admin.set_kill_switch": ADMINS,
    # rulesets
    "rulesets.index": SIGNED_IN,  # GET /rulesets
    "rulesets.show": SIGNED_IN,  # GET /rulesets/<name>
    "rulesets.version": SIGNED_IN,  # GET /rulesets/<name>/versions/<int:number>
    "rulesets.diff": SIGNED_IN,  # GET /rulesets/<name>/diff?a=N&b=M
    "rulesets.activate": APPROVERS,  # POST /rulesets/<name>/versions/<int:number>/activate
    # scenarios (test scenarios of a ruleset; analysts change them, in a proposal's review)
    "scenarios.index": SIGNED_IN,  # GET /rulesets/<name>/scenarios
    "scenarios.add": AUTHORS,  # POST /rulesets/<name>/scenarios
    "scenarios.edit": AUTHORS,  # GET+POST /rulesets/<name>/scenarios/<key>/edit
    "scenarios.remove": AUTHORS,  # POST /rulesets/<name>/scenarios/<key>/remove
    # decisions
    "decisions.index": SIGNED_IN,  # GET /decisions
    "decisions.show": SIGNED_IN,  # GET /decisions/<int:decision_id>
    "decisions.resolve": AUTHORS | APPROVERS,  # POST /decisions/<int:decision_id>/resolve
    # proposals
    "proposals.index": SIGNED_IN,  # GET /proposals
    "proposals.show": SIGNED_IN,  # GET /proposals/<int:proposal_id>
    "proposals.edit": AUTHORS,  # GET+POST /proposals/<int:proposal_id>/edit
    "proposals.submit": AUTHORS,  # POST /proposals/<int:proposal_id>/submit
    "proposals.accept": APPROVERS,  # POST /proposals/<int:proposal_id>/accept
    "proposals.reject": APPROVERS,  # POST /proposals/<int:proposal_id>/reject
    "proposals.rebase": AUTHORS | APPROVERS,  # POST /proposals/<int:proposal_id>/rebase
    "proposals.activate": APPROVERS,  # POST /proposals/<int:proposal_id>/activate
}


def principal(user: UserInfo | None) -> str:
    """The name :data:`ACCESS` knows ``user`` by: their role, or ``anonymous``."""
    return ANONYMOUS if user is None else user.role


def allowed(endpoint: str, who: str) -> bool:
    """Whether principal ``who`` may use ``endpoint`` (unlisted endpoints: nobody)."""
    return who in ACCESS.get(endpoint, frozenset())


def current_user() -> UserInfo | None:
    """The signed-in user of this request (loaded by :mod:`review_app.auth.session`)."""
    user: UserInfo | None = g.get("user")
    return user


def actor() -> str:
    """The audit actor of the signed-in user: ``user:<username>``."""
    user = current_user()
    if user is None:
        raise RuntimeError("actor() needs a signed-in user; the endpoint must not be PUBLIC")
    return f"user:{user.username}"


def can(endpoint: str) -> bool:
    """Whether the current user may use ``endpoint`` (a Jinja global for links and buttons)."""
    return allowed(endpoint, principal(current_user()))


def _outside(endpoint: str) -> bool:
    return endpoint in OUTSIDE or endpoint.partition(".")[0] in OUTSIDE


def enforce() -> Response | None:
    """``before_request``: let the request through, send it to sign-in, or refuse it."""
    endpoint = request.endpoint
    if endpoint is None or _outside(endpoint):
        return None  # routing errors (404/405) and the API's own checks
    who = principal(current_user())
    if allowed(endpoint, who):
        return None
    if endpoint not in ACCESS:
        log.error("endpoint %s is not in review_app.access.ACCESS: refused", endpoint)
    if who == ANONYMOUS:
        if request.method != "GET":  # e.g. a form sent after the session ended
            flash("Your session has ended. Sign in, then send the form again.", "warning")
            return redirect(url_for("auth.login"))
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login") + "?" + urlencode({"next": target}))
    abort(403)


def missing_endpoints(app: Flask) -> list[str]:
    """UI endpoints of ``app`` that :data:`ACCESS` does not list."""
    found = {rule.endpoint for rule in app.url_map.iter_rules()}
    return sorted(e for e in found if not _outside(e) and e not in ACCESS)


def check_complete(app: Flask) -> None:
    """Refuse to start an app with a page nobody declared roles for."""
    missing = missing_endpoints(app)
    if missing:
        raise RuntimeError(
            "these endpoints have no roles in review_app/access.py ACCESS: "
            + ", ".join(missing)
            + "; add a line for each"
        )


def init_app(app: Flask) -> None:
    """Install :func:`enforce` (before CSRF: a refused request learns nothing more) and the
    ``can`` / ``current_user`` template globals."""
    app.before_request(enforce)
    app.jinja_env.globals.update(can=can, current_user=current_user)
