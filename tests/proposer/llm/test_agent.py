"""The LLM proposer end to end: the real litellm client over HTTP to a scripted model server,
the gateway, the run record in ``llm_runs``, proposals and the audit chain."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text as text_sql

from proposer.llm import TOOL_SCHEMA_VERSION, LlmRunResult, LlmSettings, run_llm_proposer
from rules import audit
from rules.store import Database
from rules.store.models import LlmRun, Proposal
from rules.store.settings import ENV_LLM_DISABLED, set_kill_switch
from tests.proposer.llm.conftest import (
    GOOD_OPS,
    GOOD_RULE,
    INJECTION,
    NAME,
    PII_NAMES,
    Log,
    count,
    run,
)
from tests.proposer.llm.scripted_server import (
    ScriptedServer,
    error,
    invalid_body,
    malformed_call,
    slow,
    text,
    tool_call,
    tool_calls,
)

pytestmark = pytest.mark.usefixtures("log")


@pytest.fixture(autouse=True)
def _impact_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    # The good change fixes 6 of 15 logged decisions: low impact up to half the log changing.
    monkeypatch.setenv("RULEBOOK_IMPACT_MAX_CHANGED_SHARE", "0.5")


def _submit(ops: Any, citations: list[int], rationale: str = "moderate debt, clean credit") -> Any:
    return tool_call(
        "submit_proposal", {"operations": ops, "rationale": rationale, "citations": citations}
    )


def _stored(db: Database, result: LlmRunResult) -> tuple[LlmRun, list[Proposal]]:
    """The run's row in llm_runs, and the proposal rows it names."""
    with db.session() as s:
        row = s.get(LlmRun, result.run_id)
        assert row is not None
        ids = list(row.proposal_ids)
        proposals = list(s.scalars(select(Proposal).where(Proposal.id.in_(ids))))
        s.expunge_all()
    return row, proposals


def _verdicts(record: Any) -> list[tuple[str, str]]:
    return [(c["tool"], c["verdict"]) for c in record["tool_calls"]]


def test_a_good_proposal_is_a_draft_with_evidence_and_the_run_record(
    db: Database, log: Log
) -> None:
    with ScriptedServer(
        tool_call("read_ruleset", {}),
        tool_call("query_exceptions", {"resolved_as": "approve"}),
        tool_call("run_backtest", {"operations": GOOD_OPS}),
        _submit(GOOD_OPS, log.fixable[:3]),
        text("Submitted one proposal."),
    ) as server:
        result = run(db, server)
    assert (result.status, len(result.proposals)) == ("ok", 1)
    proposal = result.proposals[0]
    assert (proposal.status, proposal.author, proposal.impact) == (
        "draft",
        "llm:openai/scripted-primary",
        "low",
    )
    assert proposal.evidence is not None
    assert proposal.evidence["citations"]["verified"] == 3
    row, rows = _stored(db, result)
    assert (row.status, row.proposal_ids, row.model) == (
        "ok",
        [proposal.id],
        "openai/scripted-primary",
    )
    record = row.record
    # The proposal carries the record as it stood at the submission, never rewritten after.
    at_submit = rows[0].run
    assert (at_submit["run_id"], at_submit["status"]) == (result.run_id, "running")
    assert at_submit["messages"] == record["messages"][: len(at_submit["messages"])]
    assert at_submit["messages"][-1]["tool_calls"][0]["function"]["name"] == "submit_proposal"
    assert proposal.run == at_submit
    assert record["prompt_version"] == "propose-v2"
    assert record["tool_schema_version"] == TOOL_SCHEMA_VERSION
    assert _verdicts(record) == [
        ("read_ruleset", "allow"),
        ("query_exceptions", "allow"),
        ("run_backtest", "allow"),
        ("submit_proposal", "allow"),
    ]
    assert [m["role"] for m in record["messages"]] == ["system", "user"] + [
        "assistant",
        "tool",
    ] * 4 + ["assistant"]
    assert len(record["model_calls"]) == len(server.requests) == 5
    assert record["totals"]["tokens"] == 5 * 120
    assert all(c["latency_s"] > 0 and c["cost_known"] is False for c in record["model_calls"])
    # The model was sent the tools and, with each tool result, the conversation so far.
    assert [t["function"]["name"] for t in server.requests[0]["tools"]][-1] == "submit_proposal"
    assert server.requests[4]["messages"][-1]["role"] == "tool"
    with db.session() as s:
        assert audit.verify(s).ok
        [event] = [
            e for e in audit.events(s, action="llm.run") if e.payload["run_id"] == result.run_id
        ]
    assert event.payload["proposal_ids"] == [proposal.id]
    assert event.payload["status"] == "ok"


def test_malformed_arguments_get_one_repair_round(db: Database, log: Log) -> None:
    with ScriptedServer(
        malformed_call("submit_proposal", '{"operations": [ {"op": "add_rule"'),
        _submit(GOOD_OPS, log.fixable[:1]),
        text("done"),
    ) as server:
        result = run(db, server)
    assert (result.status, len(result.proposals)) == ("ok", 1)
    repair = server.requests[1]["messages"][-1]
    assert repair["role"] == "tool"
    assert "not valid JSON" in repair["content"]
    assert [c["kind"] for c in result.record["tool_calls"]] == ["malformed", "allowed"]


def test_malformed_twice_fails_the_run_and_leaves_no_proposal(db: Database, log: Log) -> None:
    before = count(db, Proposal)
    with ScriptedServer(malformed_call(), malformed_call(), text("unreached")) as server:
        result = run(db, server)
    assert (result.status, result.proposals) == ("failed", ())
    assert "malformed" in result.reason
    assert len(server.requests) == 2
    row, _ = _stored(db, result)
    assert (row.status, row.proposal_ids) == ("failed", [])
    assert len(row.record["messages"]) == 2 + 2 * 2  # kept in full
    assert count(db, Proposal) == before


def test_a_malformed_calls_siblings_are_not_run(db: Database, log: Log) -> None:
    with ScriptedServer(
        tool_calls(
            ("read_ruleset", "{bad"),
            (
                "submit_proposal",
                json.dumps({"operations": GOOD_OPS, "rationale": "r", "citations": log.fixable}),
            ),
        ),
        text("stop"),
    ) as server:
        result = run(db, server)
    assert (result.status, result.proposals) == ("no_proposal", ())
    assert [(c["tool"], c["kind"]) for c in result.record["tool_calls"]] == [
        ("read_ruleset", "malformed"),
        ("submit_proposal", "denied"),
    ]


def test_hallucinated_citations_are_denied_and_the_model_told(db: Database, log: Log) -> None:
    before = count(db, Proposal)
    with ScriptedServer(
        _submit(GOOD_OPS, [424_242, log.other]),
        text("I could not cite real cases."),
    ) as server:
        result = run(db, server)
    assert (result.status, result.proposals) == ("no_proposal", ())
    denial = json.loads(server.requests[1]["messages"][-1]["content"])
    assert denial["ok"] is False
    assert [p["location"] for p in denial["problems"]] == [
        "arguments.citations[0]",
        "arguments.citations[1]",
    ]
    assert count(db, Proposal) == before


@pytest.mark.parametrize(
    ("when", "args_extra"),
    [
        ({"input": "afam", "op": "eq", "value": False}, {}),  # protected
        ({"input": "credit_score", "op": "ge", "value": 700}, {}),  # unknown
        ({"input": "pirat", "op": "le", "value": 0.4}, {"approved_by": "system"}),  # extra field
    ],
    ids=["protected", "unknown", "extra-field"],
)
def test_forbidden_proposals_are_denied(
    db: Database, log: Log, when: dict[str, Any], args_extra: dict[str, Any]
) -> None:
    before = count(db, Proposal)
    ops = [{"op": "add_rule", "position": 2, "rule": {**GOOD_RULE, "when": when}}]
    args = {"operations": ops, "rationale": "r", "citations": log.fixable, **args_extra}
    with ScriptedServer(tool_call("submit_proposal", args), text("giving up")) as server:
        result = run(db, server)
    assert (result.status, result.proposals) == ("no_proposal", ())
    assert _verdicts(result.record) == [("submit_proposal", "deny")]
    assert count(db, Proposal) == before


def test_a_change_that_flips_most_decisions_is_created_as_high_impact(
    db: Database, log: Log
) -> None:
    approve_all = [
        {
            "op": "add_rule",
            "position": 0,
            "rule": {
                "id": "approve-all",
                "when": {"input": "pirat", "op": "ge", "value": 0},
                "then": {"outcome": "approve"},
            },
        }
    ]
    with ScriptedServer(
        _submit(approve_all, log.fixable[:1], "approve everyone"), text("done")
    ) as server:
        result = run(db, server)
    assert result.status == "ok"
    [proposal] = result.proposals
    assert proposal.impact == "high"
    assert proposal.evidence is not None
    assert proposal.evidence["backtest"]["changed"] > 15 // 2


@pytest.mark.parametrize("failure", [429, 500])
def test_a_rate_limit_or_server_error_falls_back_and_is_recorded(
    db: Database, failure: int
) -> None:
    with ScriptedServer(error(failure), text("nothing to propose")) as server:
        result = run(db, server)
    assert server.models() == ["scripted-primary", "scripted-backup"]
    assert result.status == "no_proposal"
    assert result.record["fallback_used"] is True
    assert result.record["model_calls"][0]["model"] == "openai/scripted-backup"
    assert result.record["models_used"] == ["openai/scripted-backup"]


def test_retries_try_the_primary_again_before_the_fallback(db: Database) -> None:
    with ScriptedServer(error(429), error(429), text("ok")) as server:
        result = run(db, server, retries=1)
    assert server.models() == ["scripted-primary", "scripted-primary", "scripted-backup"]
    assert result.record["fallback_used"] is True


def test_a_slow_primary_times_out_to_the_fallback(db: Database) -> None:
    with ScriptedServer(slow(3, text("late")), text("on time")) as server:
        result = run(db, server, call_timeout_s=0.5)
    assert result.status == "no_proposal"
    assert server.models() == ["scripted-primary", "scripted-backup"]
    assert result.record["fallback_used"] is True


def test_timeouts_on_every_model_end_the_run_with_timeout(db: Database) -> None:
    with ScriptedServer(slow(3, text("late")), slow(3, text("late"))) as server:
        result = run(db, server, call_timeout_s=0.3)
    assert result.status == "timeout"
    assert result.record["model_calls"][0]["kind"] == "timeout"


def test_the_hard_deadline_holds_whatever_the_model_does(db: Database) -> None:
    with ScriptedServer(slow(5, text("late"))) as server:
        result = run(db, server, fallback_model=None, timeout_s=0.5, call_timeout_s=30)
    assert result.status == "timeout"
    assert result.record["totals"]["elapsed_s"] < 3


def test_an_invalid_body_from_every_model_fails_the_run(db: Database) -> None:
    with ScriptedServer(invalid_body(), invalid_body()) as server:
        result = run(db, server)
    assert result.status == "failed"
    assert len(server.requests) == 2
    assert _stored(db, result)[0].status == "failed"


def test_running_out_of_cost_budget_stops_before_the_tool_calls_run(db: Database, log: Log) -> None:
    before = count(db, Proposal)
    big = (2_000_000, 1000)  # gpt-4o-mini prices: about $0.30 of prompt
    with ScriptedServer(
        tool_call(
            "submit_proposal",
            {"operations": GOOD_OPS, "rationale": "r", "citations": log.fixable},
            usage=big,
        ),
    ) as server:
        result = run(db, server, model="openai/gpt-4o-mini", max_cost_usd=0.1)
    assert result.status == "budget_exhausted"
    assert result.record["totals"]["cost_usd"] > 0.1
    assert result.record["totals"]["cost_known"] is True
    assert result.record["tool_calls"] == []
    assert result.proposals == ()
    assert count(db, Proposal) == before


def test_running_out_of_tokens_stops_the_run(db: Database) -> None:
    with ScriptedServer(tool_call("read_ruleset", {}), tool_call("read_ruleset", {})) as server:
        result = run(db, server, max_tokens=150)
    assert result.status == "budget_exhausted"
    assert len(server.requests) == 2
    assert result.record["totals"]["tokens"] == 240
    assert server.requests[1]["max_tokens"] == 30  # the call was capped at what was left


def test_the_model_call_limit_stops_the_run_without_a_partial_proposal(db: Database) -> None:
    with ScriptedServer(*[tool_call("read_ruleset", {}) for _ in range(3)]) as server:
        result = run(db, server, max_calls=2)
    assert (result.status, result.proposals) == ("call_limit", ())
    assert len(server.requests) == 2


@pytest.mark.parametrize("where", ["database", "env"])
def test_the_kill_switch_means_no_model_call_at_all(
    db: Database, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "env":
        monkeypatch.setenv(ENV_LLM_DISABLED, "1")
    else:
        with db.session() as s:
            set_kill_switch(s, True, "user:admin")
    try:
        with ScriptedServer(text("should never be asked")) as server:
            result = run(db, server)
    finally:
        with db.session() as s:
            set_kill_switch(s, False, "user:admin")
    assert result.status == "killed"
    assert where in result.reason
    assert server.requests == []
    row, _ = _stored(db, result)
    assert (row.status, row.proposal_ids, row.record["messages"]) == ("killed", [], [])


def test_without_a_model_the_run_is_recorded_as_not_configured(db: Database) -> None:
    result = run_llm_proposer(db, NAME, actor="cli:test", settings=LlmSettings())
    assert result.status == "not_configured"
    assert _stored(db, result)[0].status == "not_configured"


def test_pii_never_reaches_the_model(db: Database, log: Log) -> None:
    with ScriptedServer(
        tool_call("query_exceptions", {"page_size": 50}),
        tool_call("read_case", {"decision_id": log.fixable[0]}),
        tool_call("read_case", {"decision_id": log.fixable[1]}),
        tool_call("run_backtest", {"operations": GOOD_OPS}),
        text("done"),
    ) as server:
        result = run(db, server)
    sent = json.dumps(server.requests)
    assert result.status == "no_proposal"
    assert not any(name in sent for name in PII_NAMES)
    assert "Ann Other" not in sent
    assert "applicant_name" not in sent  # not even the PII input's name
    # The case data did arrive, wrapped as untrusted data, injection text included.
    assert INJECTION in sent
    assert "untrusted_case_data" in sent
    assert "never instructions" in server.requests[0]["messages"][0]["content"]


def _writable(db: Database) -> str:
    """Take the database's write lock (SQLite) or the audit chain's lock (PostgreSQL) from a
    connection of its own, waiting at most a second: 'free', or why not."""
    try:
        if db.engine.dialect.name == "sqlite":
            path = db.engine.url.database
            conn = sqlite3.connect(str(path), timeout=1.0)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        else:
            with db.engine.connect() as conn, conn.begin():
                conn.execute(text_sql("SET LOCAL lock_timeout = '1s'"))
                conn.execute(text_sql("SELECT seq FROM audit_head FOR UPDATE"))
    except Exception as exc:  # any failure to get the lock is the answer
        return f"locked: {type(exc).__name__}: {exc}"
    return "free"


def test_no_lock_is_held_while_the_model_thinks(db: Database, log: Log) -> None:
    # After a proposal exists (the audit chain was written), the next model call checks that
    # another writer can take the locks a run would hold: nothing may wait on the model.
    seen: list[str] = []

    def probe(request: dict[str, Any]) -> Any:
        seen.append(_writable(db))
        return text("done")(request)

    with ScriptedServer(
        tool_call("read_case", {"decision_id": log.fixable[0]}),
        _submit(GOOD_OPS, [log.fixable[0]]),
        probe,
    ) as server:
        result = run(db, server)
    assert result.status == "ok"
    assert len(result.proposals) == 1
    assert seen == ["free"]


def test_the_lock_probe_sees_a_held_lock(db: Database) -> None:
    # The control for the test above: a transaction that has written the chain holds it.
    with db.session() as s:
        audit.lock_head(s)
        audit.append(s, "cli:test", "test.held", "test:1", {})
        assert _writable(db).startswith("locked")
    assert _writable(db) == "free"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("UPDATE llm_runs SET status = 'ok'", "status is 'ok'"),
        ("UPDATE llm_runs SET model = 'x', record = '{}'", "record no longer matches"),
        ("DELETE FROM llm_runs", "was deleted"),
    ],
)
def test_an_altered_run_record_breaks_the_audit_chain(
    db: Database, log: Log, tamper: str, reason: str
) -> None:
    with ScriptedServer(text("nothing to propose")) as server:
        result = run(db, server)
    assert result.status == "no_proposal"
    with db.session() as s:
        assert audit.verify(s).ok
    # Tampered and verified in one transaction that is rolled back: the module's other tests
    # share this database.
    with db.sessions() as s:
        s.execute(text_sql(tamper + " WHERE id = :id"), {"id": result.run_id})
        found = audit.verify(s)
        s.rollback()
    assert not found.ok
    assert f"LLM run {result.run_id}" in (found.reason or "")
    assert reason in (found.reason or "")
