"""``/login`` and ``/logout``: sign in with a username and password, throttled; sign out."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from review_app.access import current_user
from review_app.auth.clock import now
from review_app.auth.forms import LoginForm
from review_app.auth.session import sign_in, sign_out
from review_app.forms import EmptyForm, status_for
from rules.store import accounts
from rules.store import login_throttle as throttle
from rules.store.accounts import UserInfo
from rules.store.extension import database

__all__ = ["bp", "safe_next"]

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

WRONG = "The username or password is not right. Check both and try again."


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the home page (no open redirect)."""
    if target:
        parts = urlsplit(target)
        relative = not parts.scheme and not parts.netloc
        plain = "\\" not in target and not any(ord(c) < 32 for c in target)
        if relative and plain and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


def _attempt(username: str, password: str) -> UserInfo | throttle.Lockout | None:
    """The user, the lockout that refused the attempt, or None for wrong credentials."""
    limits = throttle.Limits.from_config(current_app.config)
    address = request.remote_addr or "unknown"
    at = now()
    with database().session() as s:
        lock = throttle.lockout(s, username, address, at, limits)
        if lock is not None:
            log.warning("sign-in refused for %r from %s: locked by %s", username, address, lock.key)
            return lock
        user = accounts.authenticate_user(s, username, password)
        if user is None:
            log.warning("failed sign-in for %r from %s", username, address)
            throttle.record_failure(s, username, address, at, limits)
        else:
            throttle.clear(s, username)
    return user


def _locked_message(lock: throttle.Lockout) -> str:
    minutes = -(-lock.seconds_left(now()) // 60)
    who = "this username" if lock.key == "username" else "your network address"
    return (
        f"Too many failed sign-ins for {who}. Sign-in is paused: try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an admin."
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int, dict[str, str]]:
    """Sign in; then go to ``next`` if it is a page of this site."""
    form = LoginForm()
    headers: dict[str, str] = {}
    status = 200
    if form.validate_on_submit():
        outcome = _attempt(form.username.data or "", form.password.data or "")
        if isinstance(outcome, UserInfo):
            sign_in(outcome)
            flash(f"Signed in as {outcome.username} ({outcome.role}).", "success")
            return redirect(safe_next(request.args.get("next")))
        if isinstance(outcome, throttle.Lockout):
            form.form_errors.append(_locked_message(outcome))
            headers["Retry-After"] = str(outcome.seconds_left(now()))
            status = 429
        else:
            form.form_errors.append(WRONG)
    status = max(status, status_for(form)) if form.errors else status
    page = render_template(
        "auth/login.html", form=form, next=request.args.get("next"), user=current_user()
    )
    return page, status, headers


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """Sign out (a POST; the GET page only offers the button)."""
    form = EmptyForm()
    if form.validate_on_submit():
        sign_out()
        flash("You are signed out.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html", form=form)
