"""Errors raised by the proposer package.

Every user-facing error says what was wrong, where, and what would be right::

    ProposerError                   base class; never raised itself
    ├── OperationError              a change operation cannot be read or applied to its base
    ├── InductionError              rule induction was asked for an impossible target or setting
    └── BacktestError               a backtest's window is not valid, or cannot run on the ruleset

Each error carries ``problems``: a tuple of :class:`rules.errors.Problem` with a stable code, a
location such as ``operations[2].rule.when.all[0].op`` and a message, plus an optional "did
you mean" suggestion. The proposer's own codes are RB910-RB919 (see :mod:`proposer.operations`);
problems found by the rules package's parser and checks keep their RB codes, relocated to the
operation that caused them.
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.errors import Problem

__all__ = ["BacktestError", "InductionError", "OperationError", "ProposerError"]


class ProposerError(Exception):
    """Base class of every error the proposer package raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class OperationError(ProposerError):
    """A change operation is malformed, or cannot be applied to its base document."""


class InductionError(ProposerError):
    """Rule induction was given a target the review output cannot take, or bad parameters."""


class BacktestError(ProposerError):
    """A backtest's window is not valid, or it cannot run on the ruleset given."""
