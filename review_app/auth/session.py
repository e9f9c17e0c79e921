"""The signed-in user, kept in Flask's signed session cookie by id only.

The user is read from the database on every UI request, so disabling a user or changing
their role takes effect on their next click. A session ends when it has been idle for
``PERMANENT_SESSION_LIFETIME`` (the cookie is refreshed on each request) or, at the latest,
``SESSION_MAX_AGE_SECONDS`` after sign-in. Signing in starts a new session
(``session.clear()``): nothing set before it — such as a planted CSRF token — survives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, g, request, session

from review_app.auth.clock import now
from rules.api.problems import API_PATHS
from rules.store.accounts import UserInfo, get_user
from rules.store.extension import database

__all__ = ["load_user", "sign_in", "sign_out"]

USER_ID = "user_id"
SIGNED_IN_AT = "signed_in_at"


def _expired(started: Any) -> bool:
    if not isinstance(started, str):
        return True
    try:
        at = datetime.fromisoformat(started)
    except ValueError:
        return True
    limit = int(current_app.config["SESSION_MAX_AGE_SECONDS"])
    return (now() - at).total_seconds() > limit


def load_user() -> None:
    """``before_request``: set ``g.user`` from the session (None when signed out)."""
    g.user = None
    if request.path.startswith(API_PATHS) or request.endpoint == "static":
        return
    user_id = session.get(USER_ID)
    if user_id is None:
        return
    user: UserInfo | None = None
    if isinstance(user_id, int) and not _expired(session.get(SIGNED_IN_AT)):
        with database().session() as s:
            user = get_user(s, user_id)
    if user is None or user.disabled:
        session.clear()
        return
    g.user = user


def sign_in(user: UserInfo) -> None:
    """Start a new session for ``user``."""
    session.clear()
    session.permanent = True
    session[USER_ID] = user.id
    session[SIGNED_IN_AT] = now().isoformat()
    g.user = user


def sign_out() -> None:
    session.clear()
    g.user = None
