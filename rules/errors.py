"""Every error Rulebook raises on purpose, in one tree (the proposer's errors are under it)::

    RulebookError                   the root; never raised itself
    ├── DocumentError               a ruleset document cannot be read (syntax, schema, types)
    ├── FactsError                  facts do not fit a ruleset's input schema (HTTP 422)
    ├── CompileError                a valid document cannot be compiled for the engine
    │   └── EngineLimitError        ... because it exceeds a documented engine limit
    ├── EngineError                 the compiled engine failed at evaluation time (a bug)
    ├── DmnError                    a DMN model or TCK file cannot be imported or run
    ├── SettingsError               a RULEBOOK_* variable of the environment is not valid
    ├── ServiceError                the system of record refused a request
    │   ├── NotFoundError           no such ruleset, version or decision (HTTP 404)
    │   ├── ConflictError           the request contradicts the record (HTTP 409)
    │   ├── InvalidRequestError     a request's fields are wrong (HTTP 422)
    │   └── UnavailableError        the database cannot be reached (HTTP 503)
    └── ProposerError               the proposer refused (:mod:`proposer.errors`, which draws
                                    its branch: operations, induction, backtests, proposals,
                                    the LLM proposer)

Each error carries ``problems``: a tuple of :class:`Problem` with a stable code, a location
such as ``rules[3].when.all[1].op`` and a message, plus an optional "did you mean" suggestion.
Each class says how the layers show it, so each layer maps the whole tree in one place:
``exit_code`` is the status ``rulebook`` exits with (:func:`rules.cli.output.fail`), ``status``
the HTTP status of the problem the API answers with and the review app's error page
(:func:`rules.api.problems.handle`; None: not a refusal but a failure, answered with a 500),
and ``kind`` the problem's type (``urn:rulebook:problem:<kind>``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CompileError",
    "ConflictError",
    "DmnError",
    "DocumentError",
    "EngineError",
    "EngineLimitError",
    "FactsError",
    "InvalidRequestError",
    "NotFoundError",
    "OutcomeUnknownError",
    "Problem",
    "RulebookError",
    "ServiceError",
    "SettingsError",
    "UnavailableError",
    "suggest",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located precisely."""

    code: str
    location: str
    message: str
    suggestion: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return f"{self.code} {text}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "severity": self.severity,
            "location": self.location,
            "message": self.message,
            "suggestion": self.suggestion,
        }


class RulebookError(Exception):
    """The root of every error Rulebook raises on purpose."""

    exit_code = 1
    status: int | None = None
    kind: str | None = None

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class DocumentError(RulebookError):
    """A ruleset document is not valid YAML/JSON or does not follow the document schema."""


class FactsError(RulebookError):
    """Facts do not match the ruleset's input schema; each problem names a field."""

    status = 422
    kind = "invalid-facts"


class CompileError(RulebookError):
    """A valid document could not be compiled into an engine ruleset."""


class EngineLimitError(CompileError):
    """A document exceeds a documented limit of the compiled engine."""


class EngineError(RulebookError):
    """The engine failed while evaluating facts: a defect, never a user error."""


class DmnError(RulebookError):
    """A DMN model or TCK test file cannot be imported, exported or run."""


class SettingsError(RulebookError):
    """A setting read from the environment is not valid; each problem names its variable."""

    exit_code = 2


class ServiceError(RulebookError):
    """The system of record refused a request; ``status`` is its HTTP status."""

    status = 400


class NotFoundError(ServiceError):
    """No such ruleset, version, decision or key."""

    status = 404
    kind = "not-found"
    exit_code = 3


class ConflictError(ServiceError):
    """The request contradicts the record (a duplicate name, a stale base version)."""

    status = 409
    kind = "conflict"


class InvalidRequestError(ServiceError):
    """A request's fields are wrong; each problem names a field."""

    status = 422
    kind = "invalid-request"


class UnavailableError(ServiceError):
    """The database cannot be reached; nothing was written."""

    status = 503
    kind = "unavailable"
    exit_code = 4


class OutcomeUnknownError(UnavailableError):
    """The database failed while a decision was being committed, and whether it was recorded
    could not be checked: it may be on record or not. Sending the request again with the same
    ``request_id`` is safe: it returns the stored decision if there is one, else decides."""

    kind = "outcome-unknown"

    def __init__(self, message: str, request_id: str | list[str] | None = None) -> None:
        if isinstance(request_id, list):  # a batch: its items' request ids, in order
            hint = "send the batch again with the same request ids (request_ids)"
        elif request_id is not None:
            hint = f"send the request again with request_id {request_id!r}"
        else:
            hint = "send the request again with the same request_id"
        super().__init__(message, [Problem("RB415", "request_id", hint)])
        self.request_id = request_id


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, if any is close enough to be a likely typo."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None
