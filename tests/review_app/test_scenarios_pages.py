"""The scenarios pages and the dossier's scenario and shadow sections (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask

from proposer import create_proposal, submit_proposal
from rules.store import scenarios, versions
from rules.store.extension import DECISIONS_EXTENSION
from rules.store.shadow import start_shadow
from tests.review_app.conftest import Browser, db_of
from tests.rules.api.conftest import APPROVE, NAME, mortgage

JUST_OVER = {**APPROVE, "pirat": 0.33}
PAGE = f"/rulesets/{NAME}/scenarios"


def _raise_limit() -> list[dict[str, Any]]:
    rule = mortgage().to_dict()["rules"][1]
    rule["when"]["all"][0]["value"] = 0.35
    return [{"op": "update_rule", "rule_id": "approve-clean-low-debt", "rule": rule}]


def _setup(app: Flask) -> None:
    with db_of(app).session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")


def test_an_analyst_adds_edits_and_removes_a_scenario(
    app: Flask, login: Callable[..., Browser]
) -> None:
    _setup(app)
    analyst = login("analyst")
    bad = analyst.post(PAGE, {"facts": json.dumps({**APPROVE, "pirt": 1}), "expect": "[]"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "Give a JSON object" in page
    bad = analyst.post(
        PAGE, {"facts": json.dumps({**APPROVE, "pirt": 1}), "expect": '{"outcome": "approve"}'}
    )
    assert bad.status_code == 422
    assert "did you mean &#39;pirat&#39;" in bad.get_data(as_text=True)
    added = analyst.post(
        PAGE,
        {
            "scenario_id": "just-over",
            "facts": json.dumps(JUST_OVER),
            "expect": '{"outcome": "refer"}',
            "note": "referred today",
        },
    )
    assert added.status_code == 302
    listing = analyst.get(PAGE).get_data(as_text=True)
    assert "just-over" in listing
    assert "1 of 1 pass" in listing
    edited = analyst.post(
        f"{PAGE}/just-over/edit",
        {"facts": json.dumps(JUST_OVER), "expect": '{"outcome": "approve"}'},
    )
    assert edited.status_code == 302
    assert "0 of 1 pass" in analyst.get(PAGE).get_data(as_text=True)
    assert analyst.post(f"{PAGE}/just-over/remove").status_code == 302
    with db_of(app).session() as s:
        assert scenarios.list_scenarios(s, NAME) == []


def test_approvers_and_auditors_may_not_change_scenarios(
    app: Flask, login: Callable[..., Browser]
) -> None:
    _setup(app)
    for role in ("approver", "auditor"):
        browser = login(role)
        assert browser.get(PAGE).status_code == 200
        body = {"facts": json.dumps(APPROVE), "expect": '{"outcome": "approve"}'}
        assert browser.post(PAGE, body).status_code == 403
    analyst = login("analyst")
    body = {"facts": json.dumps(APPROVE), "expect": '{"outcome": "approve"}'}
    assert analyst.post(PAGE, body, csrf=False).status_code == 400


def test_the_dossier_blocks_a_failing_scenario_until_changed_in_review(
    app: Flask, login: Callable[..., Browser]
) -> None:
    _setup(app)
    with db_of(app).session() as s:
        scenarios.add_scenario(s, NAME, JUST_OVER, {"outcome": "refer"}, actor="user:x", key="j")
    with db_of(app).session() as s:
        proposal = create_proposal(
            s,
            NAME,
            operations=_raise_limit(),
            rationale="Underwriting approves these.",
            citations=[],
            author="user:analyst",
            actor="user:analyst",
        )
        submit_proposal(s, proposal.id, "user:analyst")
    approver = login("approver")
    dossier = f"/proposals/{proposal.id}"
    refused = approver.post(f"{dossier}/accept", {"note": "ok"})
    assert refused.status_code == 409
    assert "fails 1 test scenario" in refused.get_data(as_text=True)
    analyst = login("analyst")
    page = analyst.get(dossier).get_data(as_text=True)
    assert "0 of 1 pass" in page
    assert "Change in this review" in page
    assert "Scenarios: 0 of 1 pass under the candidate</a>; failing: j." in page  # summary card
    changed = analyst.post(
        f"{PAGE}/j/edit?proposal={proposal.id}",
        {
            "facts": json.dumps(JUST_OVER),
            "expect": '{"outcome": "approve"}',
            "note": "now approved",
            "proposal_id": str(proposal.id),
        },
    )
    assert changed.status_code == 302
    assert changed.location.endswith(f"{dossier}#scenarios")
    page = approver.get(dossier).get_data(as_text=True)
    assert "1 of 1 pass" in page
    assert "Scenarios: 1 of 1 pass under the candidate</a>." in page  # summary card
    assert "user:analyst</span> updated scenario" in page
    assert "in this review" in page
    accepted = approver.post(f"{dossier}/accept", {"note": "ok"})
    assert accepted.status_code == 302
    with db_of(app).session() as s:
        start_shadow(s, NAME, proposal_id=proposal.id, actor="user:approver")
    app.extensions[DECISIONS_EXTENSION].shadow.forget()
    app.extensions[DECISIONS_EXTENSION].decide(NAME, JUST_OVER, caller="app")
    app.extensions[DECISIONS_EXTENSION].shadow.drain()
    page = approver.get(dossier).get_data(as_text=True)
    assert '<dd id="shadow-seen">1</dd>' in page
    assert '<dd id="shadow-differing">1</dd>' in page
