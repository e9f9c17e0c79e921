"""A Python client for the Rulebook decision API (``/api/v1``).

::

    from rulebook_client import Client, RulebookError

    with Client("http://127.0.0.1:8000", api_key="rbk_...") as rb:
        d = rb.decide("mortgage-approval", facts, request_id="app-1001")
        rb.resolve(d.decision_id, {"outcome": "approve"}, note="documents checked")

Depends on httpx only, never on the engine, and runs on Python 3.9 and later. Results are
frozen dataclasses; errors are :class:`RulebookError` subclasses (see ``_errors`` for the
tree); idempotent calls are retried with backoff (see ``_retry`` for which and when).
"""

from __future__ import annotations

from rulebook_client._client import API_KEY_ENV, DEFAULT_TIMEOUT, VERSION, AsyncClient, Client
from rulebook_client._errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RulebookError,
    ServerError,
    TransportError,
    UnavailableError,
    ValidationError,
)
from rulebook_client._models import (
    BatchItem,
    Decision,
    DecisionDetail,
    FieldProblem,
    Replay,
    Resolution,
    Ruleset,
    Version,
)
from rulebook_client._retry import Retry

__version__ = VERSION

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_TIMEOUT",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "Client",
    "ConflictError",
    "Decision",
    "DecisionDetail",
    "FieldProblem",
    "NotFoundError",
    "PermissionDeniedError",
    "Replay",
    "Resolution",
    "Retry",
    "RulebookError",
    "Ruleset",
    "ServerError",
    "TransportError",
    "UnavailableError",
    "ValidationError",
    "Version",
    "__version__",
]
