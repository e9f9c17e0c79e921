"""Errors of the LLM proposer (they extend :mod:`proposer.errors`' tree)::

    ProposerError
    └── LlmError                    the LLM proposer cannot run as asked
        ├── LlmSettingsError        a RULEBOOK_LLM_* setting is not valid (names the variable)
        └── ModelCallError          a model call failed after retries and the fallback model

A run never raises for what the model does: a denied tool call, malformed arguments, an
exhausted budget or a failed model call end the run with a status and a reason in its record
(:class:`proposer.llm.LlmRunResult`). ``ModelCallError`` travels from the client to the agent,
which records it. Problem codes:

======  ======================================================================
code    problem
======  ======================================================================
RB950   a setting is not valid (the location is the environment variable)
RB951   a tool the gateway does not offer
RB952   tool arguments that are not a JSON object
RB953   a tool argument that is missing, unexpected or of the wrong type
RB954   a per-run limit is reached (tool calls, proposals, wall time)
RB955   a proposal the gateway refuses (inputs, citations)
RB956   a decision that is not one of this ruleset's
======  ======================================================================
"""

from __future__ import annotations

from collections.abc import Iterable

from proposer.errors import ProposerError
from rules.errors import Problem

__all__ = ["LlmError", "LlmSettingsError", "ModelCallError"]


class LlmError(ProposerError):
    """The LLM proposer cannot run as asked."""


class LlmSettingsError(LlmError):
    """A ``RULEBOOK_LLM_*`` setting is not valid; each problem names its variable."""


class ModelCallError(LlmError):
    """A model call failed after retries and fallbacks. ``kind`` is ``timeout``,
    ``rate_limit``, ``server``, ``bad_response`` or ``error``; ``model`` the model tried last."""

    def __init__(
        self,
        message: str,
        kind: str,
        model: str | None = None,
        problems: Iterable[Problem] = (),
    ) -> None:
        self.kind = kind
        self.model = model
        super().__init__(message, problems)
