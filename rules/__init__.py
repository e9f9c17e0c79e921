"""Rulebook's system of record, in rooms by concern (DESIGN §1):

- :mod:`rules.core`: the pure engine (document, checks, compile, engine, hit policies, FEEL,
  DMN); no Flask, SQLAlchemy or litellm;
- :mod:`rules.store`: the database handle, tables, versions, the one decide-and-record
  service, the decision log, accounts, settings, history import, the demo;
- :mod:`rules.audit`: the hash chain and every verifier of what it vouches for;
- :mod:`rules.api`: the HTTP blueprint, calling the store's services;
- :mod:`rules.cli`: the ``rulebook`` command.

Dependencies point one way: ``api``/``cli`` → ``store``/``audit`` → ``core``; every error
derives from :class:`rules.errors.RulebookError`. This package exports the core's API.
"""

from __future__ import annotations

from rules.core import Document, Result, load_document, parse_document, validate_facts
from rules.errors import (
    CompileError,
    DmnError,
    DocumentError,
    EngineError,
    EngineLimitError,
    FactsError,
    Problem,
    RulebookError,
)

__all__ = [
    "CompileError",
    "DmnError",
    "Document",
    "DocumentError",
    "EngineError",
    "EngineLimitError",
    "FactsError",
    "Problem",
    "Result",
    "RulebookError",
    "load_document",
    "parse_document",
    "validate_facts",
]
