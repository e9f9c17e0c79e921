"""The tools the LLM proposer may call: their names, descriptions and argument schemas
(:mod:`proposer.llm.schema`), in OpenAI's format for the model. ``TOOL_SCHEMA_VERSION`` hashes
them, so a run record says exactly which tool contract the model saw.

Five tools only read; ``submit_proposal`` is the one write, and it only creates a draft.
"""

from __future__ import annotations

import hashlib
from typing import Any

from proposer.llm.schema import Param, ToolSpec
from proposer.operations import MAX_OPERATIONS
from rules.core.document import MAX_RULES, canonical_json

__all__ = [
    "MAX_CITED",
    "MAX_PAGE_SIZE",
    "MAX_RULES_SHOWN",
    "TOOLS",
    "TOOL_SCHEMA_VERSION",
    "openai_tools",
]

MAX_PAGE_SIZE = 50
MAX_RULES_SHOWN = 200
MAX_CITED = 50
MAX_RATIONALE = 4000
MAX_TITLE = 200

_OPS = Param(
    "operations",
    "operations",
    "the change: operations applied in order to the base version's rules",
    required=True,
    low=1,
    high=MAX_OPERATIONS,
)

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "read_ruleset",
            "The base version's ruleset document: inputs (protected ones may never be used in "
            "a condition), outputs, hit policy, review output and a page of its rules.",
            (
                Param(
                    "first_rule", "integer", "index of the first rule shown", low=0, high=MAX_RULES
                ),
                Param(
                    "max_rules", "integer", "rules shown (default 100)", low=1, high=MAX_RULES_SHOWN
                ),
            ),
        ),
        ToolSpec(
            "query_exceptions",
            "A page of this ruleset's exceptions and overrides (oldest first), with facts, the "
            "engine's outputs and the person's resolution, plus counts by transition.",
            (
                Param("page", "integer", "page number (default 1)", low=1, high=100_000),
                Param(
                    "page_size", "integer", "cases per page (default 20)", low=1, high=MAX_PAGE_SIZE
                ),
                Param(
                    "rule_id",
                    "string",
                    "only cases this rule decided ('(none)': the defaults)",
                    low=1,
                    high=128,
                ),
                Param(
                    "status",
                    "choice",
                    "resolved, unresolved or any (default any)",
                    choices=("any", "resolved", "unresolved"),
                ),
                Param("resolved_as", "scalar", "only cases a person resolved to this review value"),
            ),
        ),
        ToolSpec(
            "read_case",
            "One logged decision of this ruleset: facts, outputs, deciding and matching rules, "
            "and its human resolution with the person's note.",
            (Param("decision_id", "integer", "the decision's id", required=True, low=1),),
        ),
        ToolSpec(
            "read_frontier",
            "The deterministic proposer's frontier: the rule changes induction finds in the "
            "resolved cases, from a conservative one to bolder ones within the ceiling on "
            "agreement lost, each with its operations (usable as they are or changed, in "
            "run_backtest and submit_proposal), its rules' conditions, the first decisions it "
            "fixes (to cite), its backtest trade and its expected out-of-sample trade.",
            (
                Param("target", "scalar", "only changes whose first rules give this value"),
                Param("max_offers", "integer", "changes listed (default 5)", low=1, high=10),
            ),
        ),
        ToolSpec(
            "run_backtest",
            "Replay the decision log under the base version and the base with these operations "
            "applied: changed decisions, transitions, agreement with people before and after.",
            (
                _OPS,
                Param(
                    "window",
                    "string",
                    "which decisions: all (default), last:N, ids:A-B",
                    low=1,
                    high=100,
                ),
            ),
        ),
        ToolSpec(
            "submit_proposal",
            "Submit the change as a draft proposal for people to review. Cite the decision ids "
            "it fixes: at least one must be an exception or override the change decides as "
            "the person did.",
            (
                _OPS,
                Param(
                    "rationale",
                    "string",
                    "why, in plain words",
                    required=True,
                    low=1,
                    high=MAX_RATIONALE,
                ),
                Param(
                    "citations",
                    "integers",
                    "decision ids it fixes",
                    required=True,
                    low=1,
                    high=MAX_CITED,
                ),
                Param("title", "string", "a short title", low=1, high=MAX_TITLE),
            ),
            writes=True,
        ),
    )
}


def openai_tools() -> list[dict[str, Any]]:
    """Every tool, in OpenAI's format, in a fixed order."""
    return [spec.openai() for spec in TOOLS.values()]


TOOL_SCHEMA_VERSION = hashlib.sha256(canonical_json(openai_tools())).hexdigest()[:16]
