"""Rule-change proposals with evidence (DESIGN §5): typed change operations, the candidate
document they make and its scope; the proposal service with system-attached evidence and
impact class; four-eyes review; and the deterministic (baseline) proposer."""

from __future__ import annotations

from proposer.backtest import Backtest, BacktestError, Window, backtest
from proposer.baseline import propose_baseline
from proposer.candidate import Scope, apply, diff_operations, scope
from proposer.errors import (
    FourEyesError,
    InvalidProposalError,
    OperationError,
    ProposalError,
    ProposalNotFoundError,
    ProposalStateError,
    ProposerError,
    RebaseError,
)
from proposer.evidence import Evidence, Impact, ImpactThresholds, build_evidence
from proposer.operations import (
    AddRule,
    MoveRule,
    Operation,
    RemoveRule,
    UpdateRule,
    parse_operation,
    parse_operations,
)
from proposer.proposals import (
    accept_proposal,
    create_proposal,
    edit_proposal,
    get_proposal,
    list_proposals,
    open_duplicate,
    rebase_proposal,
    reject_proposal,
    submit_proposal,
)
from proposer.records import Approval, ProposalRecord

__all__ = [
    "AddRule",
    "Approval",
    "Backtest",
    "BacktestError",
    "Evidence",
    "FourEyesError",
    "Impact",
    "ImpactThresholds",
    "InvalidProposalError",
    "MoveRule",
    "Operation",
    "OperationError",
    "ProposalError",
    "ProposalNotFoundError",
    "ProposalRecord",
    "ProposalStateError",
    "ProposerError",
    "RebaseError",
    "RemoveRule",
    "Scope",
    "UpdateRule",
    "Window",
    "accept_proposal",
    "apply",
    "backtest",
    "build_evidence",
    "create_proposal",
    "diff_operations",
    "edit_proposal",
    "get_proposal",
    "list_proposals",
    "open_duplicate",
    "parse_operation",
    "parse_operations",
    "propose_baseline",
    "rebase_proposal",
    "reject_proposal",
    "scope",
    "submit_proposal",
]
