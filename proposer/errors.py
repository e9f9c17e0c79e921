"""Errors raised by the proposer package: its branch of the product's one error tree, under
:class:`rules.errors.RulebookError` (which carries the problems, the exit code and the HTTP
status every layer shows). Every user-facing error says what was wrong, where, and what
would be right::

    ProposerError                   the proposer's branch; never raised itself
    ├── OperationError              a change operation cannot be read or applied to its base
    ├── InductionError              rule induction was asked for an impossible target or setting
    ├── BacktestError               a backtest's window is not valid, or cannot run on the ruleset
    ├── EvaluationError             the evaluation's input cannot be split into history and held out
    └── ProposalError               the proposal service refused a request (``status``: HTTP)
        ├── InvalidProposalError    its fields, operations or citations are wrong (422)
        ├── ProposalNotFoundError   no such proposal (404, exit code 3)
        ├── ProposalStateError      the proposal's status does not allow the step (409)
        ├── RebaseError             its operations no longer apply to the latest version (409)
        └── FourEyesError           the approver authored, edited or submitted it, or has
                                    already approved it (403)

A stale base at acceptance is :class:`rules.errors.ConflictError` (from
:func:`rules.store.versions.create_version`, or raised before any approval is recorded), telling to
rebase. Proposal problem codes: RB940 a proposal field is missing or malformed; RB941 an impact
threshold setting is not valid; RB942 the operations leave the base unchanged; RB943 the step is
not allowed in the proposal's status; RB944 four eyes.

Each error carries ``problems``: a tuple of :class:`rules.errors.Problem` with a stable code, a
location such as ``operations[2].rule.when.all[0].op`` and a message, plus an optional "did
you mean" suggestion. The proposer's own codes are RB910-RB919 (see :mod:`proposer.operations`);
problems found by the rules package's parser and checks keep their RB codes, relocated to the
operation that caused them.
"""

from __future__ import annotations

from rules.errors import RulebookError

__all__ = [
    "BacktestError",
    "EvaluationError",
    "FourEyesError",
    "InductionError",
    "InvalidProposalError",
    "OperationError",
    "ProposalError",
    "ProposalNotFoundError",
    "ProposalStateError",
    "ProposerError",
    "RebaseError",
]


class ProposerError(RulebookError):
    """Every error the proposer package raises on purpose."""


class OperationError(ProposerError):
    """A change operation is malformed, or cannot be applied to its base document."""


class InductionError(ProposerError):
    """Rule induction was given a target the review output cannot take, or bad parameters."""


class BacktestError(ProposerError):
    """A backtest's window is not valid, or it cannot run on the ruleset given."""


class EvaluationError(ProposerError):
    """The evaluation's input cannot be split into a history and a held-out half."""


class ProposalError(ProposerError):
    """The proposal service refused a request; nothing was written."""

    status = 400


class InvalidProposalError(ProposalError):
    """A proposal's fields, operations or citations are wrong; each problem is located."""

    status = 422
    kind = "invalid-request"


class ProposalNotFoundError(ProposalError):
    """No proposal with that id."""

    status = 404
    kind = "not-found"
    exit_code = 3


class ProposalStateError(ProposalError):
    """The proposal's status does not allow this step (e.g. editing an accepted proposal)."""

    status = 409
    kind = "conflict"


class RebaseError(ProposalError):
    """The proposal's operations cannot be applied to the latest version (a rule is gone)."""

    status = 409
    kind = "conflict"


class FourEyesError(ProposalError):
    """The approver may not approve this proposal (four eyes)."""

    status = 403
