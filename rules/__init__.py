"""Rulebook's system of record. The pure core (document, validate, check, logic, engine,
result, facts, dmn) imports no Flask, SQLAlchemy or litellm."""

from __future__ import annotations

from rules.document import Document, load_document, parse_document
from rules.errors import (
    CompileError,
    DmnError,
    DocumentError,
    EngineError,
    EngineLimitError,
    FactsError,
    Problem,
    RulesError,
)
from rules.facts import validate_facts
from rules.result import Result

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
    "RulesError",
    "load_document",
    "parse_document",
    "validate_facts",
]
