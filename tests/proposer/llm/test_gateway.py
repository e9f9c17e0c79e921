"""The tool gateway, called directly: allow-list, typed arguments, limits, PII, case data as
data, and refusals of proposals that use what they may not or cite what is not there."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proposer.llm import TOOLS, Budget, Gateway, LlmSettings, ToolOutcome
from proposer.llm.views import UNTRUSTED, WITHHELD
from rules.store import Database
from rules.store.models import Proposal
from tests.logcapture import Lines
from tests.proposer.llm.conftest import GOOD_OPS, GOOD_RULE, INJECTION, NAME, PII_NAMES, Log, count

pytestmark = pytest.mark.usefixtures("log")


def _call(db: Database, name: str, args: Any, **gateway: Any) -> tuple[ToolOutcome, Gateway]:
    raw = args if isinstance(args, str) else json.dumps(args)
    with db.session() as s:
        gw = Gateway(s, NAME, actor="cli:test", author="llm:test", **gateway)
        return gw.call(name, raw, call_id="c1"), gw


Created = Callable[[], int]


@pytest.fixture
def created(db: Database) -> Created:
    """How many proposals were created since the test started (the database is shared)."""
    before = count(db, Proposal)
    return lambda: count(db, Proposal) - before


def _rule(**when: Any) -> dict[str, Any]:
    return {"op": "add_rule", "position": 2, "rule": {**GOOD_RULE, "when": when}}


def test_an_unknown_tool_is_denied_with_the_tools_listed(db: Database) -> None:
    out, gw = _call(db, "read_cases", {"decision_id": 1})
    assert (out.allowed, out.kind) == (False, "unknown_tool")
    assert out.problems[0].suggestion == "read_case"
    assert json.loads(out.result)["ok"] is False
    assert gw.log[0].to_dict()["verdict"] == "deny"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ('{"decision_id": ', "malformed"),
        ("[1, 2]", "malformed"),
        ('{"decision_id": NaN}', "malformed"),
    ],
)
def test_arguments_that_are_not_a_json_object_are_malformed(
    db: Database, raw: str, kind: str
) -> None:
    out, _ = _call(db, "read_case", raw)
    assert (out.allowed, out.kind) == (False, kind)
    assert out.problems[0].code == "RB952"


def test_an_extra_field_is_denied_and_named(db: Database, log: Log) -> None:
    out, _ = _call(db, "read_case", {"decision_id": log.fixable[0], "ruleset": "other-loans"})
    assert not out.allowed
    assert [p.location for p in out.problems] == ["arguments.ruleset"]
    assert "unexpected argument 'ruleset'" in out.problems[0].message


@pytest.mark.parametrize(
    ("tool", "args", "where"),
    [
        ("read_case", {"decision_id": "1"}, "arguments.decision_id"),
        ("read_case", {"decision_id": True}, "arguments.decision_id"),
        ("read_case", {"decision_id": 1.0}, "arguments.decision_id"),
        ("read_case", {}, "arguments.decision_id"),
        ("query_exceptions", {"page_size": 500}, "arguments.page_size"),
        ("query_exceptions", {"status": "open"}, "arguments.status"),
        (
            "submit_proposal",
            {"operations": GOOD_OPS, "rationale": "r", "citations": ["1"]},
            "arguments.citations",
        ),
        (
            "submit_proposal",
            {"operations": {"op": "x"}, "rationale": "r", "citations": [1]},
            "arguments.operations",
        ),
    ],
)
def test_wrong_types_and_bounds_are_denied(db: Database, tool: str, args: Any, where: str) -> None:
    out, _ = _call(db, tool, args)
    assert (out.allowed, out.kind) == (False, "denied")
    assert [p.location for p in out.problems] == [where]


def test_read_case_shows_data_as_untrusted_without_pii_or_protected_values(
    db: Database, log: Log
) -> None:
    out, _ = _call(db, "read_case", {"decision_id": log.fixable[0]})
    assert out.allowed
    case = json.loads(out.result)[UNTRUSTED]
    assert case["decision_id"] == log.fixable[0]
    assert set(case["facts"]) == {"pirat", "chist", "insurance", "comment"}
    assert case["withheld_facts"] == ["afam"]  # PII names are not even listed
    note = case["resolution"]["note"]
    assert INJECTION in note  # shown, as data
    assert PII_NAMES[0] not in out.result
    assert note.startswith(f"Approved: {WITHHELD} has")


def test_read_case_of_another_ruleset_or_none_is_denied_alike(db: Database, log: Log) -> None:
    other, _ = _call(db, "read_case", {"decision_id": log.other})
    missing, _ = _call(db, "read_case", {"decision_id": 999_999})
    assert not other.allowed
    assert not missing.allowed
    assert other.problems[0].code == missing.problems[0].code == "RB956"
    assert "approve" not in other.result  # nothing of the other ruleset's decision leaks


def test_query_exceptions_filters_pages_and_hides_pii(db: Database, log: Log) -> None:
    out, _ = _call(db, "query_exceptions", {"resolved_as": "approve", "page_size": 4, "page": 2})
    body = json.loads(out.result)[UNTRUSTED]
    assert (body["total"], body["pages"]) == (6, 2)
    assert [c["decision_id"] for c in body["cases"]] == log.fixable[4:]
    assert {"engine": "refer", "resolved": "approve", "cases": 6} in body["by_transition"]
    assert not any(name in out.result for name in PII_NAMES)
    assert "afam" not in json.dumps([c["facts"] for c in body["cases"]])
    unresolved, _ = _call(db, "query_exceptions", {"status": "unresolved"})
    assert [c["decision_id"] for c in json.loads(unresolved.result)[UNTRUSTED]["cases"]] == log.open


def test_read_ruleset_shows_protected_inputs_marked_and_no_pii_input(db: Database) -> None:
    out, _ = _call(db, "read_ruleset", {"max_rules": 1})
    view = json.loads(out.result)["ruleset"]
    names = [i["name"] for i in view["document"]["inputs"]]
    assert "applicant_name" not in names
    assert "afam" in names
    assert view["protected_inputs"] == ["afam"]
    assert view["rules"] == {"total": 2, "first": 0, "shown": 1}


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"input": "afam", "op": "eq", "value": False}, "protected"),
        ({"input": "applicant_name", "op": "eq", "value": "x"}, "personal data"),
        ({"input": "pirate", "op": "le", "value": 0.4}, "no input 'pirate'"),
    ],
)
@pytest.mark.parametrize("tool", ["submit_proposal", "run_backtest"])
def test_conditions_on_protected_pii_or_unknown_inputs_are_denied(
    created: Created, db: Database, log: Log, tool: str, when: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"operations": [_rule(**when)]}
    if tool == "submit_proposal":
        args |= {"rationale": "r", "citations": log.fixable}
    out, _ = _call(db, tool, args)
    assert (out.allowed, out.kind) == (False, "denied")
    assert out.problems[0].location == "operations[0].rule.when.input"
    assert message in out.problems[0].message
    assert created() == 0


def test_operations_that_do_not_apply_are_denied_with_their_location(
    db: Database, log: Log
) -> None:
    ops = [{"op": "remove_rule", "rule_id": "approve-clean"}]
    out, _ = _call(
        db, "submit_proposal", {"operations": ops, "rationale": "r", "citations": log.fixable}
    )
    assert not out.allowed
    assert out.problems[0].location == "operations[0].rule_id"
    assert out.problems[0].suggestion == "approve-clean-low-debt"


@pytest.mark.parametrize("bad", ["missing", "other"])
def test_citations_that_do_not_exist_or_are_another_rulesets_are_denied(
    created: Created, db: Database, log: Log, bad: str
) -> None:
    cited = [log.fixable[0], 999_999 if bad == "missing" else log.other]
    out, _ = _call(
        db, "submit_proposal", {"operations": GOOD_OPS, "rationale": "r", "citations": cited}
    )
    assert not out.allowed
    assert [(p.code, p.location) for p in out.problems] == [("RB956", "arguments.citations[1]")]
    assert created() == 0


def test_a_proposal_needs_at_least_one_verified_citation(
    created: Created, db: Database, log: Log
) -> None:
    cited = log.declined + log.automated  # real, but none fixed by the change
    out, _ = _call(
        db, "submit_proposal", {"operations": GOOD_OPS, "rationale": "r", "citations": cited}
    )
    assert not out.allowed
    assert out.problems[0].code == "RB955"
    assert "unchanged" in out.reason or "already_right" in out.reason
    assert created() == 0


def test_an_allowed_submission_creates_one_draft(created: Created, db: Database, log: Log) -> None:
    args = {"operations": GOOD_OPS, "rationale": "moderate debt", "citations": log.fixable[:2]}
    out, gw = _call(db, "submit_proposal", args, proposal_limit=1)
    assert out.allowed
    assert out.proposal_id is not None
    result = json.loads(out.result)
    assert result["status"] == "draft"
    assert result["citations"] == {str(i): "verified" for i in log.fixable[:2]}
    assert [p.author for p in gw.proposals] == ["llm:test"]
    assert created() == 1


def test_the_proposal_limit_denies_further_submissions(
    created: Created, db: Database, log: Log
) -> None:
    args = {"operations": GOOD_OPS, "rationale": "r", "citations": log.fixable[:1]}
    with db.session() as s:
        gw = Gateway(s, NAME, actor="cli:test", proposal_limit=1)
        first = gw.call("submit_proposal", json.dumps(args))
        second = gw.call("submit_proposal", json.dumps(args))
    assert first.allowed
    assert (second.allowed, second.kind) == (False, "limit")
    assert created() == 1


def test_the_tool_call_limit_stops_the_run(db: Database) -> None:
    budget = Budget(LlmSettings(max_tool_calls=2))
    with db.session() as s:
        gw = Gateway(s, NAME, actor="cli:test", budget=budget)
        outcomes = [gw.call("read_ruleset", "{}") for _ in range(3)]
    assert [o.allowed for o in outcomes] == [True, True, False]
    assert outcomes[2].kind == "limit"
    assert gw.stop is not None
    assert gw.stop.status == "call_limit"
    assert [e.allowed for e in gw.log] == [True, True, False]


def test_a_call_after_the_deadline_is_denied(db: Database) -> None:
    now = [0.0]
    budget = Budget(LlmSettings(timeout_s=10), clock=lambda: now[0])
    with db.session() as s:
        gw = Gateway(s, NAME, actor="cli:test", budget=budget, clock=lambda: now[0])
        assert gw.call("read_ruleset", "{}").allowed
        now[0] = 11.0
        late = gw.call("read_ruleset", "{}")
    assert (late.allowed, late.kind) == (False, "limit")
    assert gw.stop is not None
    assert gw.stop.status == "timeout"


def test_run_backtest_reports_the_change_as_data(created: Created, db: Database, log: Log) -> None:
    out, _ = _call(db, "run_backtest", {"operations": GOOD_OPS})
    report = json.loads(out.result)[UNTRUSTED]
    assert report["changed"] == 6
    assert sorted(i["decision_id"] for i in report["changed_decisions"]["items"]) == log.fixable
    assert created() == 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 50) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["decision_id", "page", "operations", "x"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)
RAW = st.one_of(JSON_VALUES.map(json.dumps), st.text(max_size=20))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from([*TOOLS, "drop_table", ""]), raw=RAW)
def test_whatever_the_model_sends_the_gateway_answers_in_json(
    db: Database, name: str, raw: str
) -> None:
    with db.session() as s:
        gw = Gateway(s, NAME, actor="cli:test")
        out = gw.call(name, raw)
    body = json.loads(out.result)
    assert body["ok"] is out.allowed
    assert out.allowed == (out.kind == "allowed")
    assert len(gw.log) == 1
    assert gw.log[0].allowed is out.allowed
    if not out.allowed:
        assert out.reason
        assert body["denied"] == out.reason


def test_each_verdict_is_logged_at_info_and_emitted(db: Database, json_logs: Lines) -> None:
    """The allow/deny lines are INFO records: Rulebook's logging (as serve and the CLI
    configure it) emits them; Python's last-resort handler would drop them."""
    _call(db, "read_cases", {"decision_id": 1})
    (line,) = [line for line in json_logs() if line["logger"] == "rulebook.llm.gateway"]
    assert line["level"] == "INFO"
    assert f"{NAME} 'read_cases' deny" in line["message"]
