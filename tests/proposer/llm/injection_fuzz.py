"""Random tool calls beyond the corpus's scripted ones, valid and not (hypothesis strategies),
and the comparison of the gateway's answer to one with the oracle's verdict."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from proposer.llm import Gateway, ToolOutcome
from tests.proposer.llm.injection_calls import Verdict
from tests.proposer.llm.injection_corpus import CORPUS_OPERATIONS

__all__ = ["compare", "fuzz_calls"]

GOOD = CORPUS_OPERATIONS["good"]
RULE = GOOD[0]["rule"]
FUZZ_OPERATIONS = [
    *CORPUS_OPERATIONS.values(),
    [{"op": "add_rule", "position": 9, "rule": RULE}],
    [{"op": "add_rule", "position": 0, "rule": {**RULE, "id": "decline-insurance-denied"}}],
    [{"op": "remove_rule", "rule_id": "approve-clean"}],
    [{"op": "move_rule", "rule_id": "approve-clean-low-debt", "position": 0}],
    [{"op": "move_rule", "rule_id": "approve-clean-low-debt", "position": 2}],
    [{"op": "frobnicate_rule", "rule_id": "x"}],
    [{**GOOD[0], "approved": True}],
    [{"op": "add_rule", "position": "2", "rule": RULE}],
    [{"op": "add_rule", "position": 2, "rule": {**RULE, "id": "nul\x00rule"}}],
    [{"op": "add_rule", "position": 2, "rule": {**RULE, "then": {"outcome\x00": "approve"}}}],
    [
        {
            "op": "add_rule",
            "position": 2,
            "rule": {**RULE, "when": {"input": "afam", "op": "eq", "value": True}},
        }
    ],
    [
        {
            "op": "add_rule",
            "position": 2,
            "rule": {**RULE, "when": {"input": "email", "op": "ne", "value": "x"}},
        }
    ],
    [{"op": "add_rule", "position": 2, "rule": {**RULE, "then": {"outcome": "approved"}}}],
    [{"op": "update_rule", "rule_id": "approve-clean-low-debt", "rule": {**RULE}}],
]
CITATIONS = [
    ["@fixable.0"],
    ["@fixable.*"],
    ["@automated.*"],
    ["@declined.0", "@fixable.1"],
    ["@missing"],
    ["@other.0", "@fixable.0"],
    ["@open.0"],
    ["@fixable.2", "@fixable.2"],
]
OPERATIONS = st.one_of(
    st.sampled_from(list(CORPUS_OPERATIONS.values())), st.sampled_from(FUZZ_OPERATIONS)
)
REQUIRED: dict[str, dict[str, Any]] = {
    "read_case": {
        "decision_id": st.sampled_from(["@fixable.0", "@other.0", "@missing", "@automated.2"])
    },
    "run_backtest": {"operations": OPERATIONS},
    "submit_proposal": {
        "operations": OPERATIONS,
        "rationale": st.sampled_from(["why", "   ", "x" * 4000, "why\x00 not"]),
        "citations": st.sampled_from(CITATIONS),
    },
}
EXTRA = [
    ("first_rule", 0), ("first_rule", 5000), ("max_rules", 1), ("max_rules", 0), ("max_rules", True),
    ("page", 1), ("page", 0), ("page_size", 50), ("page_size", 51), ("rule_id", "(none)"),
    ("rule_id", ""), ("rule_id", "approve\x00"), ("status", "resolved"), ("status", "open"),
    ("resolved_as", "approve"), ("resolved_as", None), ("resolved_as", [1]),
    ("resolved_as", "\x00"), ("decision_id", 0), ("decision_id", "1"), ("decision_id", 1.5),
    ("operations", []), ("operations", {"op": "x"}), ("operations", [1]), ("window", "all"),
    ("window", "last:5"), ("window", "last:0"), ("window", "yesterday"), ("rationale", ""),
    ("rationale", "x" * 4001), ("citations", []), ("citations", ["1"]), ("citations", [0]),
    ("title", "t"), ("title", ""), ("title", "x" * 201), ("title", "\x00" * 300),
    ("ruleset", "other-loans"), ("kill_switch", False), ("admin\x00", True), ("x" * 201, 1),
]  # fmt: skip
NAMES = [*REQUIRED, "read_ruleset", "query_exceptions", "activate_version", "shell", "read_cases"]
NAMES += ["read\x00ruleset"]  # a long name: the corpus (refused past the limit, uncapped)
RAW = [
    "", "[1]", "{bad", '{"page": NaN}', "null", '["\\u0000"]', '"\\u0000"',
    '{"page": 1, "x\\u0000": 2}', '{"page": "\x00"}', '{"x": [[[["\\u0000"]]]]}',
]  # fmt: skip


@st.composite
def fuzz_calls(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(NAMES))
    if draw(st.integers(0, 9)) == 0:
        return name, draw(st.sampled_from(RAW))
    args = draw(st.fixed_dictionaries(REQUIRED.get(name, {})))
    if draw(st.booleans()):
        args |= dict(draw(st.lists(st.sampled_from(EXTRA), min_size=1, max_size=2)))
    return name, args


def compare(outcome: ToolOutcome, verdict: Verdict, gw: Gateway) -> None:
    """The gateway's answer to one call is the oracle's verdict."""
    assert outcome.kind == verdict.kind, (outcome, verdict)
    if verdict.codes is not None:
        assert {p.code for p in outcome.problems} == verdict.codes, outcome
    if verdict.locations is not None:
        assert {p.location for p in outcome.problems} == verdict.locations, outcome
    result = json.loads(outcome.result)
    assert result["tool"] == verdict.echo
    if verdict.citations is not None:
        assert {int(k): v for k, v in result["citations"].items()} == verdict.citations
        assert result["status"] == "draft"
        [created] = [p for p in gw.proposals if p.id == outcome.proposal_id]
        assert created.evidence is not None
        assert (created.impact, created.evidence["impact"]["changed"]) == (
            verdict.impact,
            verdict.changed,
        )
