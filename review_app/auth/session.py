"""The signed-in user: a session kept on the server, whose random token rides in Flask's signed
cookie (:mod:`rules.store.user_sessions` holds the sessions, only the tokens' hashes).

Every UI request looks the token up (one indexed query, joined to the user), so disabling a
user or changing their role takes effect on their next click, and a session the server ended
— signed out, password changed or reset, user disabled — is refused even to a copy of the
cookie made before. A session ends when it has been idle for ``PERMANENT_SESSION_LIFETIME``
or, at the latest, ``SESSION_MAX_AGE_SECONDS`` after sign-in, both enforced from the table.
Signing in starts a new cookie session (``session.clear()``): nothing set before it — such as
a planted CSRF token — survives.

A user whose password an admin reset must choose a new one first: until then
:func:`require_password_change` sends every page but that one and sign-out to it.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from review_app.auth.clock import now
from rules.api.problems import API_PATHS
from rules.store import credentials
from rules.store.credentials import SignedIn
from rules.store.extension import database
from rules.store.user_sessions import SessionLimits

__all__ = [
    "SESSION_TOKEN",
    "load_user",
    "require_password_change",
    "session_id",
    "sign_in",
    "sign_out",
]

SESSION_TOKEN = "sid"  # noqa: S105  # the cookie key, not a secret
# What a user who must change their password may still open.
WHILE_CHANGING = frozenset({"auth.change_password", "auth.logout", "static"})


def load_user() -> None:
    """``before_request``: set ``g.user`` from the session (None when signed out)."""
    g.user = None
    g.session_id = None
    if request.path.startswith(API_PATHS) or request.endpoint == "static":
        return
    token = session.get(SESSION_TOKEN)
    if token is None:
        return
    found = None
    if isinstance(token, str):
        limits = SessionLimits.from_config(current_app.config)
        found = credentials.current_user(database(), token, now(), limits)
    if found is None:
        session.clear()
        return
    g.user = found.user
    g.session_id = found.session_id


def session_id() -> int | None:
    """The id of this request's server-side session, if signed in."""
    ident: int | None = g.get("session_id")
    return ident


def sign_in(signed: SignedIn) -> None:
    """Carry the new session ``signed`` in a new cookie session; the session this browser
    had before, if any, ends."""
    previous = session.get(SESSION_TOKEN)
    if isinstance(previous, str):
        credentials.sign_out(database(), previous)
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN] = signed.token
    g.user = signed.user
    g.session_id = signed.session_id


def sign_out() -> None:
    """End this session on the server and forget the cookie's contents."""
    token = session.get(SESSION_TOKEN)
    if isinstance(token, str):
        credentials.sign_out(database(), token)
    session.clear()
    g.user = None
    g.session_id = None


def require_password_change() -> Response | None:
    """``before_request``: a user who must change their password goes to that page."""
    user = g.get("user")
    if user is None or not user.must_change_password:
        return None
    if request.endpoint in WHILE_CHANGING or request.path.startswith(API_PATHS):
        return None
    flash("An admin reset your password: choose a new one to continue.", "warning")
    return redirect(url_for("auth.change_password"))
