"""Every error the client raises, keyed by the answer's HTTP status::

    RulebookError                 any failure; .status, .type, .title, .detail, .errors
    ├── TransportError            no answer: connection refused or dropped, a time-out (status None)
    ├── BadRequestError           400, 413, 415: the body was not usable JSON
    ├── AuthenticationError       401: no key, or an unknown or revoked one
    │   └── PermissionDeniedError 403: the key lacks the endpoint's scope
    ├── NotFoundError             404: no such ruleset, version or decision
    ├── ConflictError             409: e.g. a request_id reused with different facts
    ├── ValidationError           422: invalid body or facts, each field named in .errors
    ├── UnavailableError          503: nothing was recorded; .retry_after (seconds) if sent
    └── ServerError               any other 5xx

Another status (405, 429, ...) is a plain :class:`RulebookError`. The server answers errors as
``application/problem+json`` (RFC 9457); ``errors`` keeps its list of :class:`FieldProblem`.
An answer that is not a problem (say an HTML page from a proxy) keeps its text as ``detail``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from time import time

import httpx

from rulebook_client._models import FieldProblem, parse_field_problem

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "RulebookError",
    "ServerError",
    "TransportError",
    "UnavailableError",
    "ValidationError",
    "error_for",
    "retry_after",
]

MAX_DETAIL = 500  # characters of a non-problem body kept as the detail


class RulebookError(Exception):
    """A call failed; ``str()`` gives the status, the detail and each field error."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        problem_type: str = "about:blank",
        title: str = "",
        errors: Iterable[FieldProblem] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.type = problem_type
        self.title = title
        self.errors = tuple(errors)
        self.retry_after = retry_after

    def __str__(self) -> str:
        head = f"{self.status} {self.title}: " if self.status is not None else ""
        parts = [f"{head}{self.detail}"]
        for e in self.errors:
            hint = f" (did you mean {e.suggestion!r}?)" if e.suggestion else ""
            parts.append(f"{e.field}: {e.message}{hint}")
        return "; ".join(parts)


class TransportError(RulebookError):
    """No answer came back (the ``__cause__`` is httpx's exception)."""


class BadRequestError(RulebookError):
    """The request body was not JSON the server could read."""


class AuthenticationError(RulebookError):
    """The API key is missing, unknown or revoked."""


class PermissionDeniedError(AuthenticationError):
    """The API key lacks the scope the endpoint requires."""


class NotFoundError(RulebookError):
    """No such ruleset, version or decision."""


class ConflictError(RulebookError):
    """The request contradicts the record, e.g. a request_id reused with different facts."""


class ValidationError(RulebookError):
    """The body or the facts are invalid; ``errors`` names each field and the likely fix."""


class UnavailableError(RulebookError):
    """The service could not record anything now; retry after ``retry_after`` seconds."""


class ServerError(RulebookError):
    """The server failed unexpectedly (it logged the error)."""


_BY_STATUS: dict[int, type[RulebookError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    415: BadRequestError,
    422: ValidationError,
    503: UnavailableError,
}


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delay-seconds or an HTTP date), if usable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def error_for(response: httpx.Response) -> RulebookError:
    """The exception for an error answer (status 400 or above)."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else RulebookError)
    try:
        body = json.loads(response.text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:MAX_DETAIL] or _phrase(status)
        return cls(text, status=status, title=_phrase(status), retry_after=retry_after(response))
    errors = body.get("errors")
    return cls(
        str(body.get("detail") or _phrase(status)),
        status=status,
        problem_type=str(body.get("type", "about:blank")),
        title=str(body.get("title") or _phrase(status)),
        errors=[parse_field_problem(e) for e in errors if isinstance(e, dict)]
        if isinstance(errors, list)
        else (),
        retry_after=retry_after(response),
    )
