"""The proposal service on real databases: evidence attached by the system, located errors that
write nothing, four eyes, one or two approvers by impact, stale bases and rebases, rejection,
and an audit chain that verifies after all of it.

The log is the backtest's hand-computed one (examples/mortgage.yaml; see test_backtest.py):
nine decisions A-I, five resolved. ``RAISE`` raises the approve rule's debt limit to 0.35.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from proposer import (
    FourEyesError,
    ImpactThresholds,
    InvalidProposalError,
    ProposalNotFoundError,
    ProposalRecord,
    ProposalStateError,
    RebaseError,
    accept_proposal,
    create_proposal,
    edit_proposal,
    get_proposal,
    list_proposals,
    rebase_proposal,
    reject_proposal,
    submit_proposal,
)
from rules import audit
from rules.core.document import Document
from rules.core.engine import evaluate
from rules.errors import ConflictError
from rules.store import Database, decisions, versions
from rules.store.models import AuditEvent, Proposal, ProposalApproval, Version
from tests.rules.store.storecases import APPROVE, NAME, mortgage

LOG: list[tuple[str, dict[str, Any], str | None]] = [
    ("A", {"pirat": 0.20, "insurance": True}, None),
    ("B", {"pirat": 0.25}, "approve"),
    ("C", {"pirat": 0.32}, "approve"),
    ("D", {"pirat": 0.34, "chist": 2}, "decline"),
    ("E", {"pirat": 0.40}, "decline"),
    ("F", {"pirat": 0.33, "chist": 3}, None),
    ("G", {"pirat": 0.31, "chist": 2, "phist": True}, None),
    ("H", {"pirat": 0.35}, None),
    ("I", {"pirat": 0.30}, "decline"),
]
APPROVE_RULE = "approve-clean-low-debt"
LOW = ImpactThresholds(max_changed_share=1.0, max_changed=1000)  # everything fits
STRICT = ImpactThresholds(max_changed_share=0.05, max_changed=1000)


def raise_limit(limit: float = 0.35) -> list[dict[str, Any]]:
    """Operations that raise the approve rule's debt-ratio limit (JSON, as an author sends)."""
    rule = copy.deepcopy(mortgage().to_dict()["rules"][1])
    rule["when"]["all"][0]["value"] = limit
    return [{"op": "update_rule", "rule_id": APPROVE_RULE, "rule": rule}]


def decline_all() -> list[dict[str, Any]]:
    """A rule in front of every other: every decision becomes a decline."""
    rule = {"id": "decline-everything", "then": {"outcome": "decline", "reason": "No"}}
    return [{"op": "add_rule", "position": 0, "rule": rule}]


def refer_all() -> list[dict[str, Any]]:
    """A rule in front of every other: every decision goes to a person."""
    rule = {"id": "refer-everything", "then": {"outcome": "refer", "reason": "Look"}}
    return [{"op": "add_rule", "position": 0, "rule": rule}]


def logged(db: Database) -> dict[str, int]:
    """Version 1 of the mortgage ruleset and decisions A-I, resolved as in LOG; their ids."""
    ids: dict[str, int] = {}
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
    for key, change, outcome in LOG:
        with db.session() as s:
            record, _ = decisions.DecisionService().decide(
                NAME, {**APPROVE, **change}, caller="test", session=s
            )
            ids[key] = record.id
            if outcome is not None:
                decisions.resolve(s, record.id, {"outcome": outcome}, note=None, actor="ann")
    return ids


def propose(db: Database, operations: Any = None, **options: Any) -> ProposalRecord:
    fields: dict[str, Any] = {
        "operations": raise_limit() if operations is None else operations,
        "rationale": "Applicants just over the limit were approved by underwriting.",
        "citations": [],
        "author": "user:ann",
        "actor": "user:ann",
        "thresholds": LOW,
    }
    fields.update(options)
    with db.session() as s:
        return create_proposal(s, NAME, **fields)


def submit(db: Database, proposal_id: int, actor: str = "user:sam") -> ProposalRecord:
    with db.session() as s:
        return submit_proposal(s, proposal_id, actor)


def accept(db: Database, proposal_id: int, approver: str) -> ProposalRecord:
    with db.session() as s:
        return accept_proposal(s, proposal_id, approver=approver, note="looks right")


def counts(db: Database) -> tuple[int, int, int, int]:
    """Proposals, approvals, versions and audit events stored."""
    with db.session() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Proposal, ProposalApproval, Version, AuditEvent)
        )


def actions(db: Database) -> list[str]:
    with db.session() as s:
        return [e.action for e in audit.events(s)]


def recount(db: Database, base: Document, candidate: Document) -> dict[str, int]:
    """The backtest's figures counted independently: every decision evaluated directly."""
    figures = dict.fromkeys(("cases", "changed", "agree_before", "agree_after"), 0)
    figures |= dict.fromkeys(("resolved", "exceptions_before", "exceptions_after"), 0)
    with db.session() as s:
        records = list(decisions.iter_decisions(s, NAME))
    for record in records:
        before = evaluate(base, record.facts)
        after = evaluate(candidate, record.facts)
        figures["cases"] += 1
        figures["changed"] += before.outputs != after.outputs
        figures["exceptions_before"] += before.exception
        figures["exceptions_after"] += after.exception
        if record.resolution is not None:
            wanted = record.resolution.outputs.items()
            old, new = dict(before.outputs or {}), dict(after.outputs or {})  # type: ignore[arg-type]
            figures["resolved"] += 1
            figures["agree_before"] += all(old.get(k) == v for k, v in wanted)
            figures["agree_after"] += all(new.get(k) == v for k, v in wanted)
    return figures


def test_create_attaches_the_systems_evidence(db: Database) -> None:
    ids = logged(db)
    cited = [ids["C"], ids["D"], ids["E"], ids["B"], ids["A"], 999_999]
    record = propose(db, citations=cited, thresholds=STRICT)
    assert (record.status, record.base, record.author, record.editors) == (
        "draft",
        1,
        "user:ann",
        (),
    )
    assert record.title == f"Update rule {APPROVE_RULE}"
    assert record.candidate.rules[1].id == APPROVE_RULE
    evidence = record.evidence
    assert evidence is not None
    assert evidence["attached_by"] == "system"
    verdicts = [(v["decision_id"], v["verdict"]) for v in evidence["citations"]["verdicts"]]
    assert verdicts == [
        (ids["C"], "verified"),
        (ids["D"], "still_wrong"),
        (ids["E"], "unchanged"),
        (ids["B"], "not_exception"),
        (ids["A"], "unresolved"),
        (999_999, "not_found"),
    ]
    assert (evidence["citations"]["verified"], evidence["citations"]["total"]) == (1, 6)
    report = evidence["backtest"]
    expected = recount(db, mortgage(), record.candidate)
    assert report["cases"] == expected["cases"] == 9
    assert report["changed"] == expected["changed"] == 3
    assert report["agreement"]["resolved"] == expected["resolved"]
    assert report["agreement"]["before"] == expected["agree_before"]
    assert report["agreement"]["after"] == expected["agree_after"]
    assert report["exceptions"]["before"] == expected["exceptions_before"]
    assert report["exceptions"]["after"] == expected["exceptions_after"]
    assert [c["decision_id"] for c in report["changed_decisions"]["items"]] == [
        ids["C"],
        ids["D"],
        ids["H"],
    ]
    assert evidence["scope"]["updated"] == [APPROVE_RULE]
    assert evidence["scope"]["inputs"] == ["pirat", "chist", "phist"]
    # 3 of 9 outcomes change: a third, far above 5%, so two approvers are needed
    assert record.impact == "high" == evidence["impact"]["level"]
    assert [r["code"] for r in evidence["impact"]["reasons"]] == ["changed_share"]
    assert record.approvers_needed == 2


def test_thresholds_decide_the_impact_class(db: Database) -> None:
    logged(db)
    assert propose(db, thresholds=LOW).impact == "low"
    by_count = propose(db, raise_limit(0.36), thresholds=ImpactThresholds(1.0, max_changed=2))
    assert by_count.impact == "high"
    assert by_count.evidence is not None
    assert [r["code"] for r in by_count.evidence["impact"]["reasons"]] == ["changed_count"]
    # Flipping most past decisions to decline, under the default thresholds
    flipped = propose(db, decline_all(), thresholds=ImpactThresholds())
    assert flipped.evidence is not None
    assert flipped.evidence["backtest"]["changed"] == 9  # every decision's reason
    assert flipped.evidence["impact"]["changed"] == 8  # every outcome but A's, a decline
    assert flipped.impact == "high"
    assert [r["code"] for r in flipped.evidence["impact"]["reasons"]] == ["changed_share"]
    # Sending everything to a person agrees with fewer resolutions (B was approved): high
    # even when any share of changes is allowed.
    referred = propose(db, refer_all(), thresholds=LOW)
    assert referred.evidence is not None
    agreement = referred.evidence["backtest"]["agreement"]
    assert (agreement["before"], agreement["after"]) == (1, 0)
    assert referred.impact == "high"
    assert [r["code"] for r in referred.evidence["impact"]["reasons"]] == ["agreement_falls"]
    removal = propose(db, [{"op": "remove_rule", "rule_id": "decline-insurance-denied"}])
    assert removal.impact == "high"


def test_an_empty_log_is_high_impact(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
    record = propose(db, thresholds=LOW)
    assert record.evidence is not None
    assert record.evidence["backtest"]["cases"] == 0
    assert record.impact == "high"
    assert [r["code"] for r in record.evidence["impact"]["reasons"]] == ["no_evidence"]


PROTECTED = [
    {
        "op": "add_rule",
        "position": 0,
        "rule": {"id": "x", "when": {"input": "afam", "op": "eq", "value": True}, "then": {}},
    }
]
UNKNOWN = [
    {
        "op": "add_rule",
        "position": 0,
        "rule": {"id": "x", "when": {"input": "pirt", "op": "gt", "value": 1}, "then": {}},
    }
]


@pytest.mark.parametrize(
    ("fields", "code", "location"),
    [
        ({"operations": PROTECTED}, "RB104", "operations[0].rule.when.input"),
        ({"operations": UNKNOWN}, "RB101", "operations[0].rule.when.input"),
        ({"operations": [{"op": "drop_rule"}]}, "RB910", "operations[0].op"),
        ({"operations": {"op": "remove_rule"}}, "RB910", "operations"),
        ({"operations": []}, "RB940", "operations"),
        (
            {"operations": [{"op": "remove_rule", "rule_id": "nope"}]},
            "RB911",
            "operations[0].rule_id",
        ),
        ({"citations": [1, "2"]}, "RB902", "citations[1]"),
        ({"citations": "1,2"}, "RB901", "citations"),
        ({"rationale": "  "}, "RB940", "rationale"),
        ({"title": "x" * 201}, "RB940", "title"),
        ({"author": ""}, "RB940", "author"),
        ({"operations": raise_limit(0.30)}, "RB942", "operations"),  # the base's own limit
    ],
)
def test_bad_input_is_located_and_writes_nothing(
    db: Database, fields: dict[str, Any], code: str, location: str
) -> None:
    logged(db)
    before = counts(db)
    with pytest.raises(InvalidProposalError) as caught:
        propose(db, **fields)
    assert (code, location) in [(p.code, p.location) for p in caught.value.problems]
    assert counts(db) == before


def test_every_problem_is_reported_at_once(db: Database) -> None:
    logged(db)
    with pytest.raises(InvalidProposalError) as caught:
        propose(db, PROTECTED, citations=["x"], rationale="")
    found = {p.location for p in caught.value.problems}
    assert found == {"operations[0].rule.when.input", "citations[0]", "rationale"}


def test_operation_objects_are_accepted_and_authors_numbers_are_not_evidence(
    db: Database,
) -> None:
    logged(db)
    typed = propose(db, raise_limit())
    with db.session() as s:
        again = create_proposal(
            s,
            NAME,
            operations=list(typed.operations),
            rationale="It fixes 900 cases and harms none.",  # a claim, not evidence
            citations=[],
            author="llm:test",
            actor="cli:ann",
            run={"claimed": {"changed": 0}},
            thresholds=LOW,
        )
    assert again.candidate_hash == typed.candidate_hash
    assert again.evidence is not None
    assert again.evidence["backtest"]["changed"] == 3
    assert again.run == {"claimed": {"changed": 0}}


def test_four_eyes_and_two_approvers_for_high_impact(db: Database) -> None:
    logged(db)
    record = propose(db, thresholds=STRICT, author="baseline", actor="cli:runner")
    assert record.impact == "high"
    with db.session() as s:
        edit_proposal(
            s,
            record.id,
            operations=raise_limit(0.34),
            rationale="A little more cautious.",
            citations=[],
            editor="user:eve",
            thresholds=STRICT,
        )
    with pytest.raises(ProposalStateError):  # a draft is submitted before review
        accept(db, record.id, "user:bob")
    submit(db, record.id, "user:sam")
    versions_before = counts(db)[2]
    for participant in ("baseline", "user:eve", "user:sam"):
        with pytest.raises(FourEyesError):
            accept(db, record.id, participant)
    first = accept(db, record.id, "user:bob")
    assert (first.status, [a.approver for a in first.approvals]) == ("submitted", ["user:bob"])
    assert first.accepted_number is None
    assert counts(db)[2] == versions_before
    with pytest.raises(FourEyesError, match="second, different approver"):
        accept(db, record.id, "user:bob")
    done = accept(db, record.id, "user:carol")
    assert (done.status, done.accepted_number, done.decided_by) == ("accepted", 2, "user:carol")
    assert [a.approver for a in done.approvals] == ["user:bob", "user:carol"]
    with db.session() as s:
        version = versions.get_version(s, NAME, 2)
    assert (version.proposal_id, version.parent, version.author) == (record.id, 1, "user:carol")
    assert version.hash == done.candidate_hash
    assert not version.active
    assert actions(db)[-4:] == [
        "proposal.submitted",
        "proposal.approved",
        "version.created",
        "proposal.accepted",
    ]
    with pytest.raises(ProposalStateError):
        accept(db, record.id, "user:dan")
    with db.session() as s:
        assert audit.verify(s).ok


def test_low_impact_needs_one_approver_and_an_edit_clears_approvals(db: Database) -> None:
    logged(db)
    high = propose(db, thresholds=STRICT)
    submit(db, high.id)
    assert len(accept(db, high.id, "user:bob").approvals) == 1
    with db.session() as s:  # the change the approval was for is gone: so is the approval
        edited = edit_proposal(
            s,
            high.id,
            operations=raise_limit(0.31),
            rationale="Smaller step.",
            citations=[],
            editor="user:ann",
            thresholds=LOW,
        )
    assert (edited.approvals, edited.impact, edited.editors) == ((), "low", ("user:ann",))
    assert edited.status == "submitted"
    done = accept(db, high.id, "user:bob")
    assert (done.status, done.accepted_number) == ("accepted", 2)


def test_a_stale_base_is_rebased_with_fresh_evidence_then_accepted(db: Database) -> None:
    logged(db)
    first = propose(db, raise_limit(0.35))
    second = propose(db, [{"op": "move_rule", "rule_id": APPROVE_RULE, "position": 0}])
    for record in (first, second):
        submit(db, record.id)
    accept(db, first.id, "user:bob")
    before = counts(db)
    with pytest.raises(ConflictError, match="rebase"):
        accept(db, second.id, "user:carol")
    assert counts(db) == before  # no approval recorded for the stale proposal
    with db.session() as s:
        rebased = rebase_proposal(s, second.id, actor="user:ann", thresholds=LOW)
    assert (rebased.base, rebased.status) == (2, "submitted")
    assert rebased.evidence is not None
    assert rebased.evidence["backtest"]["base"]["version"] == 2
    assert rebased.candidate.rules[0].when == first.candidate.rules[1].when  # v2's limit kept
    done = accept(db, second.id, "user:carol")
    assert done.accepted_number == 3
    with db.session() as s:
        assert versions.get_version(s, NAME, 3).parent == 2


def test_a_rebase_that_no_longer_applies_is_located(db: Database) -> None:
    logged(db)
    removal = propose(db, [{"op": "remove_rule", "rule_id": APPROVE_RULE}])
    update = propose(db, raise_limit())
    submit(db, removal.id)
    accept(db, removal.id, "user:bob")
    accept(db, removal.id, "user:carol")  # removing a rule is high impact
    before = counts(db)
    with db.session() as s, pytest.raises(RebaseError) as caught:
        rebase_proposal(s, update.id, actor="user:ann")
    assert [(p.code, p.location) for p in caught.value.problems] == [
        ("RB911", "operations[0].rule_id")
    ]
    assert counts(db) == before


def test_reject_needs_a_reason(db: Database) -> None:
    logged(db)
    record = propose(db)
    for reason in ("", "   "):
        with db.session() as s, pytest.raises(InvalidProposalError) as caught:
            reject_proposal(s, record.id, actor="user:bob", reason=reason)
        assert [p.location for p in caught.value.problems] == ["reason"]
    with db.session() as s:
        done = reject_proposal(s, record.id, actor="user:bob", reason="Too broad.")
    assert (done.status, done.decided_by, done.decision_note) == (
        "rejected",
        "user:bob",
        "Too broad.",
    )
    with db.session() as s, pytest.raises(ProposalStateError):
        reject_proposal(s, record.id, actor="user:bob", reason="again")
    with db.session() as s, pytest.raises(ProposalStateError):
        submit_proposal(s, record.id, "user:sam")
    with db.session() as s, pytest.raises(ProposalStateError):
        rebase_proposal(s, record.id, actor="user:sam")


def test_get_and_list(db: Database) -> None:
    logged(db)
    low = propose(db, thresholds=LOW)
    high = propose(db, decline_all(), author="baseline", actor="cli:x", thresholds=STRICT)
    with db.session() as s:
        assert get_proposal(s, low.id) == low
        assert [r.id for r in list_proposals(s)] == [high.id, low.id]
        assert [r.id for r in list_proposals(s, impact="high")] == [high.id]
        assert [r.id for r in list_proposals(s, author="baseline", ruleset=NAME)] == [high.id]
        assert list_proposals(s, status="accepted") == []
        assert [r.id for r in list_proposals(s, limit=1, offset=1)] == [low.id]
        with pytest.raises(InvalidProposalError) as caught:
            list_proposals(s, status="submited")
        assert caught.value.problems[0].suggestion == "submitted"
        with pytest.raises(ProposalNotFoundError):
            get_proposal(s, 12345)
    data = low.to_dict()
    assert data["candidate"] == low.candidate.to_dict()
    assert data["operations"] == raise_limit()


def test_the_audit_chain_records_every_step_and_verifies(db: Database) -> None:
    logged(db)
    start = len(actions(db))
    record = propose(db)
    with db.session() as s:
        edit_proposal(
            s,
            record.id,
            operations=raise_limit(0.33),
            rationale="r",
            citations=[],
            editor="user:eve",
        )
    submit(db, record.id)
    with db.session() as s:
        rebase_proposal(s, record.id, actor="user:ann")
    other = propose(db)
    with db.session() as s:
        reject_proposal(s, other.id, actor="user:bob", reason="duplicate")
    assert actions(db)[start:] == [
        "proposal.created",
        "proposal.edited",
        "proposal.submitted",
        "proposal.rebased",
        "proposal.created",
        "proposal.rejected",
    ]
    with db.session() as s:
        created = next(audit.events(s, action="proposal.created"))
        assert created.subject == f"proposal:{record.id}"
        assert created.payload["candidate_hash"] == record.candidate_hash
        assert created.payload["author"] == "user:ann"
        assert created.payload["impact"] == record.impact
        assert audit.verify(s).ok


def test_the_submitter_is_recorded_on_the_proposal_and_vouched_for(db: Database) -> None:
    """Four eyes reads who submitted a proposal from the proposal itself; the audit chain's
    proposal.submitted event vouches for it, so changing it in the table is found."""
    logged(db)
    record = propose(db)
    assert record.submitted_by is None
    submitted = submit(db, record.id, "user:sam")
    assert submitted.submitted_by == "user:sam"
    with db.session() as s:
        row = s.get(Proposal, record.id)
        assert row is not None
        assert row.submitted_by == "user:sam"
        assert audit.verify(s).ok
    with pytest.raises(FourEyesError, match="submitted"):
        accept(db, record.id, "user:sam")
    with db.engine.begin() as conn:  # someone with database access names another submitter
        conn.execute(
            Proposal.__table__.update()
            .where(Proposal.__table__.c.id == record.id)
            .values(submitted_by="user:mallory")
        )
    with db.session() as s:
        result = audit.verify(s)
        last = max(e.seq for e in audit.events(s, subject=f"proposal:{record.id}"))
    assert (result.ok, result.first_bad_seq) == (False, last)
    assert "submitted_by is 'user:mallory', the proposal.submitted event says 'user:sam'" in (
        result.reason or ""
    )


def race(db: Database, attempts: list[tuple[int, str]]) -> list[str]:
    """Run the acceptances at once, each in its own thread and transaction; their outcomes."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []

    def attempt(proposal_id: int, approver: str) -> None:
        barrier.wait()
        try:
            outcomes.append(accept(db, proposal_id, approver).status)
        except (ProposalStateError, ConflictError) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt, args=a) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_concurrent_acceptances_create_one_version(db: Database) -> None:
    logged(db)
    same = propose(db)
    rival = propose(db, raise_limit(0.33))
    for record in (same, rival):
        submit(db, record.id)
    # two approvers accept the same proposal: one version, the other is told it is accepted
    assert race(db, [(same.id, "user:bob"), (same.id, "user:carol")]) == [
        "ProposalStateError",
        "accepted",
    ]
    with db.session() as s:
        assert [v.number for v in versions.list_versions(s, NAME)] == [1, 2]
        assert get_proposal(s, rival.id).status == "submitted"
    # the rival's base is now stale either way
    assert race(db, [(rival.id, "user:bob")]) == ["ConflictError"]
    with db.session() as s:
        assert audit.verify(s).ok


def test_concurrent_acceptances_on_one_base_leave_one_to_rebase(db: Database) -> None:
    logged(db)
    first, second = propose(db), propose(db, raise_limit(0.33))
    for record in (first, second):
        submit(db, record.id)
    outcomes = race(db, [(first.id, "user:bob"), (second.id, "user:carol")])
    assert outcomes == ["ConflictError", "accepted"]
    with db.session() as s:
        assert [v.number for v in versions.list_versions(s, NAME)] == [1, 2]
        assert audit.verify(s).ok
