"""Rule-change proposals with evidence (DESIGN §5): typed change operations, the candidate
document they make, and its scope."""

from __future__ import annotations

from proposer.candidate import Scope, apply, diff_operations, scope
from proposer.errors import OperationError, ProposerError
from proposer.operations import (
    AddRule,
    MoveRule,
    Operation,
    RemoveRule,
    UpdateRule,
    parse_operation,
    parse_operations,
)

__all__ = [
    "AddRule",
    "MoveRule",
    "Operation",
    "OperationError",
    "ProposerError",
    "RemoveRule",
    "Scope",
    "UpdateRule",
    "apply",
    "diff_operations",
    "parse_operation",
    "parse_operations",
    "scope",
]
