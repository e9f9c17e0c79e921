"""The ``read_frontier`` tool: the LLM agent reads the deterministic proposer's frontier through
the gateway (the real litellm client over HTTP to a scripted model server), starts from it or
merges it, and its drafts get the same evidence and checks as any other; the result carries no
PII or protected value, is wrapped as untrusted case data, and a bad argument is a logged
denial naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from proposer import AddRule, get_proposal
from proposer.baseline import read_frontier
from proposer.llm import run_llm_proposer
from proposer.llm.views import UNTRUSTED
from rules.core.document import parse_document
from rules.store import Database, decisions, versions
from tests.proposer.llm.conftest import DOCUMENT, INJECTION, PII_NAMES, settings_for
from tests.proposer.llm.scripted_server import Reply, ScriptedServer, text, tool_call

NAME = "frontier-loans"
PROTECTED_TEXT = "Syldavian"  # a protected value, written into comments people typed


@pytest.fixture(autouse=True)
def _ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    # A small log whose automated decisions all agree: any new rule costs points of agreement.
    monkeypatch.setenv("RULEBOOK_PROPOSER_MAX_AGREEMENT_LOSS", "12")
    monkeypatch.setenv("RULEBOOK_IMPACT_MAX_CHANGED_SHARE", "0.9")


@pytest.fixture(scope="module")
def ruleset(shared: tuple[Database, Any]) -> str:
    """A ruleset whose log supports induction, its kinds of case interleaved in time: clean-credit
    referrals at a moderate debt ratio that people approved (two they declined), clean-credit
    ones at a high ratio and others with a poor history that they declined, and automated
    decisions they agreed with. Names (PII), ``afam`` and ``origin`` (protected) and comments
    naming an origin, with an injection in the notes, are on record."""
    db = shared[0]
    data = {**DOCUMENT, "name": NAME}
    data["inputs"] = [*DOCUMENT["inputs"], {"name": "origin", "type": "string", "required": False,
                                             "protected": True}]  # fmt: skip
    moderate = [(round(0.31 + 0.004 * i, 3), 1, "decline" if i in (7, 21) else "approve")
                for i in range(32)]  # fmt: skip
    high = [(round(0.55 + 0.015 * i, 3), 1, "decline") for i in range(12)]
    poor = [(round(0.6 + 0.02 * i, 3), 3, "decline") for i in range(12)]
    kinds = [moderate, high, poor, moderate]
    with db.session() as s:
        versions.create_ruleset(s, parse_document(data), "cli:setup")
    with db.session() as s:
        n = 0
        while any(kinds):
            for kind in kinds:
                if not kind:
                    continue
                pirat, chist, outcome = kind.pop(0)
                person = PII_NAMES[n % len(PII_NAMES)]
                facts = {
                    "pirat": pirat,
                    "chist": chist,
                    "insurance": False,
                    "afam": n % 2 == 0,
                    "applicant_name": person,
                    "origin": PROTECTED_TEXT,
                    "comment": f"{PROTECTED_TEXT} file" if n % 3 else "steady job",
                }
                _record(s, facts, outcome, f"{person} checked. {INJECTION}")
                n += 1
        for pirat in (0.1, 0.2, 0.25, 0.28):
            _record(s, {"pirat": pirat, "chist": 1, "insurance": False}, "approve", None)
    return NAME


def _record(s: Any, facts: dict[str, Any], outcome: str, note: str | None) -> None:
    record, _ = decisions.DecisionService().decide(NAME, facts, caller="test", session=s)
    decisions.resolve(s, record.id, {"outcome": outcome}, note=note, actor="user:uw")


def _shown(request: dict[str, Any]) -> dict[str, Any]:
    """The last tool result the model was sent, as JSON."""
    message = [m for m in request["messages"] if m["role"] == "tool"][-1]
    body: dict[str, Any] = json.loads(message["content"])
    return body


def _submit_from(pick: Callable[[list[dict[str, Any]]], tuple[list[Any], list[int]]]) -> Any:
    """A turn that submits operations and citations picked from the frontier just read."""

    def answer(request: dict[str, Any]) -> Reply:
        offers = _shown(request)[UNTRUSTED]["offers"]
        operations, cited = pick(offers)
        arguments = {
            "operations": operations,
            "rationale": "Starts from the proposer's frontier.",
            "citations": cited,
        }
        return tool_call("submit_proposal", arguments)(request)

    return answer


def _run(db: Database, server: ScriptedServer) -> Any:
    return run_llm_proposer(db, NAME, actor="cli:test", limit=3, settings=settings_for(server))


def test_the_agent_reads_the_frontier_and_submits_an_offer(db: Database, ruleset: str) -> None:
    def first(offers: list[dict[str, Any]]) -> tuple[list[Any], list[int]]:
        return offers[0]["operations"], offers[0]["first_fixed_decisions"][:5]

    with ScriptedServer(
        tool_call("read_frontier", {}),
        _submit_from(first),
        text("Submitted the conservative change."),
    ) as server:
        result = _run(db, server)
    assert (result.status, len(result.proposals)) == ("ok", 1)
    calls = result.record["tool_calls"]
    assert [(c["tool"], c["verdict"]) for c in calls] == [
        ("read_frontier", "allow"),
        ("submit_proposal", "allow"),
    ]
    shown = _shown(server.requests[1])
    assert set(shown) == {"ok", "tool", UNTRUSTED}  # everything drawn from cases is data
    frontier = shown[UNTRUSTED]
    assert frontier["offers"], "the log supports a change"
    text_shown = json.dumps(frontier, ensure_ascii=False)
    for secret in (*PII_NAMES, PROTECTED_TEXT):
        assert secret not in text_shown
    offer = frontier["offers"][0]
    assert (
        offer["expected_points"]["automation"]["low"]
        <= offer["expected_points"]["automation"]["expected"]
    )
    # The draft has the system's evidence, and the frontier's forecast of exactly this change.
    proposal = result.proposals[0]
    evidence = proposal.evidence
    assert evidence is not None
    assert evidence["citations"]["verified"] == evidence["citations"]["total"] == 5
    with db.session() as s:
        expected = read_frontier(s, NAME)
    assert [op.to_dict() for op in proposal.operations] == offer["operations"]
    forecast = evidence["forecast"]
    assert forecast["kind"] == "out_of_sample_estimate"
    assert forecast["automation_points"] == offer["expected_points"]["automation"]
    assert forecast["role"] == expected.chosen[0].role == offer["role"]


def test_a_merged_change_gets_the_whole_evidence_and_no_borrowed_forecast(
    db: Database, ruleset: str
) -> None:
    """The model joins the rules of two offers into one change: the draft's citations and
    backtest are of the whole, and no forecast is attached, since nothing was held out from a
    change the model wrote."""

    def merged(offers: list[dict[str, Any]]) -> tuple[list[Any], list[int]]:
        rules = {}
        for offer in offers:
            for op in offer["operations"]:
                rules.setdefault(op["rule"]["id"], op)
        chosen = sorted(rules.values(), key=lambda op: op["position"])[:2]
        operations = [
            {**op, "position": op["position"] + n} for n, op in enumerate(chosen)
        ]  # each position counts the rules added before it
        cited = [i for o in offers for i in o["first_fixed_decisions"]][:8]
        return operations, sorted(set(cited))

    with ScriptedServer(
        tool_call("read_frontier", {"max_offers": 10}),
        _submit_from(merged),
        text("Submitted a merged change."),
    ) as server:
        result = _run(db, server)
    calls = [(c["tool"], c["verdict"]) for c in result.record["tool_calls"]]
    if calls[-1] == ("submit_proposal", "deny"):
        pytest.fail(f"the merged change was refused: {result.record['tool_calls'][-1]}")
    (proposal,) = result.proposals
    with db.session() as s:
        record = get_proposal(s, proposal.id)
    added = [op for op in record.operations if isinstance(op, AddRule)]
    assert len(added) == 2
    evidence = record.evidence or {}
    assert evidence["forecast"] is None
    assert evidence["backtest"]["candidate"]["hash"] == record.candidate_hash
    # the rules do not overlap: each offer's fixes are fixed by the whole change too
    assert evidence["citations"]["total"] == evidence["citations"]["verified"] >= 2
    assert set(evidence["scope"]["rules"]) == {op.rule.id for op in added}
    targets = {op.rule.then_dict["outcome"] for op in added}
    assert targets == {"approve", "decline"}, "a change in both directions"


def test_a_bad_target_is_a_logged_denial_naming_the_field(db: Database, ruleset: str) -> None:
    with ScriptedServer(
        tool_call("read_frontier", {"target": "aprove"}),
        tool_call("read_frontier", {"max_offers": 0}),
        text("Nothing to do."),
    ) as server:
        result = _run(db, server)
    first, second = result.record["tool_calls"]
    assert (first["verdict"], first["kind"]) == ("deny", "denied")
    assert [(p["code"], p["location"], p["suggestion"]) for p in first["problems"]] == [
        ("RB953", "arguments.target", "approve")
    ]
    assert (second["verdict"], second["problems"][0]["location"]) == (
        "deny",
        "arguments.max_offers",
    )
    assert result.status == "no_proposal"
