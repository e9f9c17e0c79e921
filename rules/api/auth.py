"""Bearer API keys with scopes: ``decide``, ``resolve`` and ``read``.

A missing or invalid key is a 401 with ``WWW-Authenticate: Bearer``; a key without the
route's scope is a 403 naming the scope. Verified keys are cached per app for a few seconds
(:class:`rules.store.accounts.KeyCache`), so the decision path rarely queries for its key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from rules.api.problems import ApiProblem
from rules.errors import Problem
from rules.store.accounts import ApiKeyInfo
from rules.store.extension import database, key_cache

__all__ = ["LOOKED_UP", "bearer_token", "caller", "looked_up", "required_scope", "requires"]

P = ParamSpec("P")
R = TypeVar("R")
REALM = 'Bearer realm="rulebook"'
# The WSGI environ's entry where the decision hot path leaves the key it looked up for a
# request it hands to Flask: (token, key or None). Set only by code (a client's headers become
# HTTP_* entries), so a refused key costs one lookup, not two.
LOOKED_UP = "rulebook.api_key"


def _unauthorized(detail: str, error: str | None = None) -> ApiProblem:
    challenge = REALM + (f', error="{error}"' if error else "")
    return ApiProblem(
        401,
        detail,
        [Problem("RB801", "Authorization", detail)],
        {"WWW-Authenticate": challenge},
    )


def bearer_token(header: str) -> str | None:
    """The key of an ``Authorization`` value ``Bearer <key>``; None for any other (the
    decision hot path reads the header with this too)."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _authenticate() -> ApiKeyInfo:
    header = request.headers.get("Authorization", "")
    if not header:
        raise _unauthorized("send an API key: Authorization: Bearer <key>")
    token = bearer_token(header)
    if token is None:
        raise _unauthorized("use the Bearer scheme: Authorization: Bearer <key>", "invalid_request")
    key = looked_up(token)
    if key is None:
        raise _unauthorized("the API key is not valid or has been revoked", "invalid_token")
    return key


def looked_up(token: str) -> ApiKeyInfo | None:
    """The key ``token`` is, or None: the decision hot path's answer for this request when it
    asked already (:data:`LOOKED_UP`), else the app's key cache's (a plain session, opened only
    when the key is not cached)."""
    found = request.environ.get(LOOKED_UP)
    if isinstance(found, tuple) and len(found) == 2 and found[0] == token:
        key: ApiKeyInfo | None = found[1]
        return key
    return key_cache().get(database().sessions, token)


def requires(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Let a view run only for a valid API key that has ``scope``."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            key = _authenticate()
            if scope not in key.scopes:
                detail = f"this API key lacks the {scope!r} scope this endpoint requires"
                raise ApiProblem(
                    403,
                    detail,
                    [Problem("RB802", "Authorization", detail)],
                    {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'},
                )
            g.api_key = key
            return view(*args, **kwargs)

        wrapper.required_scope = scope  # type: ignore[attr-defined]
        return wrapper

    return decorator


def required_scope(view: Callable[..., object]) -> str | None:
    """The scope a view was declared with :func:`requires` (None: unauthenticated)."""
    scope = getattr(view, "required_scope", None)
    return scope if isinstance(scope, str) else None


def caller() -> ApiKeyInfo:
    """The API key of the current request (set by :func:`requires`)."""
    key: ApiKeyInfo = g.api_key
    return key
