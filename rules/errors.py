"""Errors raised by the rules package.

Every user-facing error says what was wrong, where, and what would be right::

    RulesError                      base class; never raised itself
    ├── DocumentError               a ruleset document cannot be read (syntax, schema, types)
    ├── FactsError                  facts do not fit a ruleset's input schema (HTTP 422)
    ├── CompileError                a valid document cannot be compiled for the engine
    │   └── EngineLimitError        ... because it exceeds a documented engine limit
    ├── EngineError                 the compiled engine failed at evaluation time (a bug)
    ├── DmnError                    a DMN model or TCK file cannot be imported or run
    └── ServiceError                the system of record refused a request
        ├── NotFoundError           no such ruleset, version or decision (HTTP 404)
        ├── ConflictError           the request contradicts the record (HTTP 409)
        ├── InvalidRequestError     a request's fields are wrong (HTTP 422)
        └── UnavailableError        the database cannot be reached (HTTP 503)

Each error carries ``problems``: a tuple of :class:`Problem` with a stable code, a location
such as ``rules[3].when.all[1].op`` and a message, plus an optional "did you mean" suggestion.
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
    "Problem",
    "RulesError",
    "ServiceError",
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


class RulesError(Exception):
    """Base class of every error the rules package raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class DocumentError(RulesError):
    """A ruleset document is not valid YAML/JSON or does not follow the document schema."""


class FactsError(RulesError):
    """Facts do not match the ruleset's input schema; each problem names a field."""


class CompileError(RulesError):
    """A valid document could not be compiled into an engine ruleset."""


class EngineLimitError(CompileError):
    """A document exceeds a documented limit of the compiled engine."""


class EngineError(RulesError):
    """The engine failed while evaluating facts: a defect, never a user error."""


class DmnError(RulesError):
    """A DMN model or TCK test file cannot be imported, exported or run."""


class ServiceError(RulesError):
    """The system of record refused a request; ``status`` is its HTTP status."""

    status = 400


class NotFoundError(ServiceError):
    """No such ruleset, version, decision or key."""

    status = 404
    exit_code = 3


class ConflictError(ServiceError):
    """The request contradicts the record (a duplicate name, a stale base version)."""

    status = 409


class InvalidRequestError(ServiceError):
    """A request's fields are wrong; each problem names a field."""

    status = 422


class UnavailableError(ServiceError):
    """The database cannot be reached; nothing was written."""

    status = 503
    exit_code = 4


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, if any is close enough to be a likely typo."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None
