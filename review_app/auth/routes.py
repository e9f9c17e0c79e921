"""``/login``, ``/logout`` and ``/account/password``: sign in (throttled), sign out (the session
ends on the server), and change one's own password.

The checks, the throttle and their audit events are :mod:`rules.store.credentials`; the views
only turn its outcomes into pages: a refusal is a 429 with ``Retry-After``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from review_app.access import current_user
from review_app.auth.clock import now
from review_app.auth.forms import ChangePasswordForm, LoginForm
from review_app.auth.session import session_id, sign_in, sign_out
from review_app.forms import EmptyForm, apply_problems, status_for
from rules.errors import ConflictError, InvalidRequestError
from rules.store import credentials
from rules.store.credentials import Attempt, SignedIn
from rules.store.extension import database
from rules.store.login_throttle import Limits, Refusal
from rules.store.user_sessions import SessionLimits

__all__ = ["WRONG", "bp", "safe_next"]

bp = Blueprint("auth", __name__)

WRONG = "The username or password is not right. Check both and try again."
WRONG_CURRENT = "That is not your current password."

Page = tuple[str, int, dict[str, str]]


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the home page (no open redirect)."""
    if target:
        parts = urlsplit(target)
        relative = not parts.scheme and not parts.netloc
        plain = "\\" not in target and not any(ord(c) < 32 for c in target)
        if relative and plain and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


def _attempt(username: str, password: str, **kw: str) -> Attempt:
    return Attempt(
        username,
        password,
        request.remote_addr or "unknown",
        request.user_agent.string or "",
        **kw,
    )


def _refused(refusal: Refusal, form: LoginForm | ChangePasswordForm) -> dict[str, str]:
    """Say why and for how long; the ``Retry-After`` header of the 429."""
    left = refusal.seconds_left(now())
    wait = f"{left} second{'s' if left != 1 else ''}"
    if left >= 120:
        minutes = -(-left // 60)
        wait = f"{minutes} minutes"
    who = (
        "for this username from your network address"
        if refusal.scope == "pair"
        else "from your network address"
    )
    form.form_errors.append(
        f"Too many failed sign-ins {who}. Sign-in is paused: try again in {wait}."
    )
    return {"Retry-After": str(left)}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | Page:
    """Sign in; then go to ``next`` if it is a page of this site."""
    form = LoginForm()
    headers: dict[str, str] = {}
    status = 200
    if form.validate_on_submit():
        config = current_app.config
        outcome = credentials.sign_in(
            database(),
            _attempt(form.username.data or "", form.password.data or ""),
            now(),
            Limits.from_config(config),
            SessionLimits.from_config(config),
        )
        if isinstance(outcome, SignedIn):
            sign_in(outcome)
            flash(f"Signed in as {outcome.user.username} ({outcome.user.role}).", "success")
            if outcome.user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(safe_next(request.args.get("next")))
        if isinstance(outcome, Refusal):
            headers, status = _refused(outcome, form), 429
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


def _change(form: ChangePasswordForm) -> tuple[bool, dict[str, str]]:
    """Try the change the valid ``form`` asks for; whether it was made, and headers."""
    user = current_user()
    ident = session_id()
    if user is None or ident is None:  # never: the page is for signed-in users only
        raise RuntimeError("change_password needs a signed-in user")
    attempt = _attempt(
        user.username, form.current.data or "", actor=f"user:{user.username}", form="password"
    )
    try:
        outcome = credentials.change_password(
            database(),
            attempt,
            form.password.data or "",
            ident,
            now(),
            Limits.from_config(current_app.config),
        )
    except InvalidRequestError as exc:
        apply_problems(form, exc)
        return False, {}
    except ConflictError as exc:
        form.form_errors.append(f"{exc.args[0]}.")
        return False, {}
    if isinstance(outcome, Refusal):
        return False, _refused(outcome, form)
    if outcome is None:
        form.current.errors = [*form.current.errors, WRONG_CURRENT]
        return False, {}
    return True, {}


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Response | Page:
    """Change one's own password (the current one required); other sessions end."""
    form = ChangePasswordForm()
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        done, headers = _change(form)
        if done:
            flash("Your password is changed. Your other sessions are signed out.", "success")
            return redirect(url_for("home.index"))
    status = 429 if "Retry-After" in headers else status_for(form)
    page = render_template("auth/change_password.html", form=form, user=current_user())
    return page, status, headers
