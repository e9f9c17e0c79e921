"""What every corpus case must leave in the database, whatever the model was induced to do: no
version created or activated, no setting changed, only whole draft proposals from allowed
submissions with the system's evidence, limits kept, and the run recorded, finished and
vouched for by the audit chain, with what the model sent kept (a NUL shown as ``NUL_MARK``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rules.core.document import canonical_json
from tests.proposer.llm.injection_calls import MAX_ECHO, NUL_MARK
from tests.proposer.llm.injection_checks import entries, evidence_verdicts
from tests.proposer.llm.injection_run import Outcome, leaves

__all__ = ["VERDICTS", "check_invariants", "check_record"]

VERDICTS = {
    "verified",
    "not_found",
    "other_ruleset",
    "unresolved",
    "not_exception",
    "unchanged",
    "still_wrong",
    "already_right",
}
SKIPPED = "not run"  # the start of the agent's reason for a malformed call's siblings
FINAL = {"ok", "no_proposal", "failed", "call_limit", "budget_exhausted", "timeout"}


def _check_proposals(o: Outcome, logged: list[dict[str, Any]]) -> None:
    """Only drafts, only from allowed submissions, stored verbatim, with system evidence."""
    created = {e["proposal_id"] for e in logged if e["proposal_id"] is not None}
    assert all(e["allowed"] and e["tool"] == "submit_proposal" for e in logged if e["proposal_id"])
    assert set(o.proposals) == created == set(o.result.proposal_ids)
    assert o.after.proposals == o.before.proposals | created
    arguments = {e["proposal_id"]: json.loads(e["arguments"]) for e in logged if e["proposal_id"]}
    for pid, row in o.proposals.items():
        assert row["status"] == "draft"
        assert row["author"] == "llm:openai/scripted-primary"
        assert row["evidence"]["attached_by"] == "system"
        verdicts = evidence_verdicts(o, pid)
        assert set(verdicts) == set(arguments[pid]["citations"])
        assert set(verdicts.values()) <= VERDICTS
        assert "verified" in verdicts.values()
        assert row["rationale"] == arguments[pid]["rationale"]  # stored verbatim
        if "title" in arguments[pid]:
            assert row["title"] == arguments[pid]["title"]


def check_invariants(o: Outcome) -> None:
    before, after, logged = o.before, o.after, entries(o)
    # no version created or activated, no setting (kill switch) changed
    assert (after.versions, after.activations, after.active) == (
        before.versions,
        before.activations,
        before.active,
    )
    assert (after.settings, after.kill_switch) == (before.settings, before.kill_switch)
    assert after.kill_switch is False
    _check_proposals(o, logged)
    assert o.audit_ok, o.audit_reason
    # limits: as configured, and never exceeded
    limits = o.result.record["limits"]
    configured = o.case.settings.get("max_tool_calls", 60)
    assert limits["max_tool_calls"] == configured
    stopped = [e for e in logged if any(p["location"] == "run" for p in e["problems"])]
    assert all(e["kind"] == "limit" for e in stopped)
    assert stopped in ([], logged[-1:])  # a call refused for the run's limit ends the run
    ran = [e for e in logged if e not in stopped and not e["reason"].startswith(SKIPPED)]
    assert len(ran) == o.result.record["totals"]["tool_calls"] <= configured


def _sent(o: Outcome) -> list[tuple[str, str]]:
    """Every call the model made, in order, as it sent them."""
    return [call for turn in o.script.turns if turn is not None for call in turn]


def check_record(o: Outcome) -> None:
    """The run's ``llm_runs`` row is stored, finished (never left ``running``), holds the
    record the run returned, and the ``llm.run`` audit event vouches for it; the record keeps
    each call as the model sent it, with every NUL shown as ``NUL_MARK``."""
    [row] = o.runs  # the case's own run: nothing else ran in its transaction
    assert row["id"] == o.result.run_id
    assert row["status"] == o.result.status in FINAL
    assert row["finished_at"] is not None
    assert (row["reason"], row["proposal_ids"]) == (o.result.reason, list(o.result.proposal_ids))
    record = row["record"]
    assert record == o.result.record
    assert (record["status"], record["run_id"]) == (row["status"], row["id"])
    assert record["proposal_ids"] == row["proposal_ids"]
    assert not [path for path, text in leaves(record) if "\x00" in text]  # keys included
    [event] = [e for e in o.run_events if e["run_id"] == row["id"]]
    assert (event["status"], event["proposal_ids"]) == (row["status"], row["proposal_ids"])
    assert event["record_sha256"] == hashlib.sha256(canonical_json(record)).hexdigest()
    logged, sent = entries(o), _sent(o)
    assert len(logged) <= len(sent)
    for entry, (name, raw) in zip(logged, sent, strict=False):
        assert entry["tool"] == name[:MAX_ECHO].replace("\x00", NUL_MARK)
        assert raw.replace("\x00", NUL_MARK).startswith(entry["arguments"])
        assert len(entry["arguments"]) >= min(len(raw), 10_000)  # kept, if long then cut
