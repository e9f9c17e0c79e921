"""Review decisions on the dossier: submit, accept under four eyes (never the author, an
editor or the submitter; two different approvers for high impact), reject with a reason,
rebase a stale base, activate and roll back; refusals are messages with their status, never
a server error; and every decision is in an audit chain that verifies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from proposer import edit_proposal
from review_app import access
from rules import audit
from rules.store import versions
from rules.store.models import AuditEvent
from tests.review_app.conftest import Browser, audit_seq, db_of
from tests.review_app.test_proposals_support import (
    NAME,
    logged,
    propose,
    raise_limit,
    record,
    reword,
    section,
    submit,
    text_of,
)

# A rule no logged decision reaches (every pirat is below 0.5): low impact on any version.
DECLINE_HIGH_DEBT = [
    {
        "op": "add_rule",
        "position": 2,
        "rule": {
            "id": "decline-high-debt",
            "when": {"input": "pirat", "op": "gt", "value": 0.5},
            "then": {"outcome": "decline", "reason": "Debt too high"},
        },
    }
]


def act(browser: Browser, proposal_id: int, action: str, **data: str) -> TestResponse:
    return browser.post(f"/proposals/{proposal_id}/{action}", data)


def follow(browser: Browser, response: TestResponse) -> str:
    assert response.status_code == 302, text_of(response.get_data(as_text=True))[:600]
    return text_of(browser.client.get(response.location).get_data(as_text=True))


@pytest.fixture
def high(app: Flask) -> int:
    """A submitted, high-impact proposal authored by ann, edited by eve, submitted by sam."""
    logged(app)
    made = propose(app)
    with db_of(app).session() as s:
        edit_proposal(s, made.id, operations=raise_limit(0.34), rationale="edited",
                      citations=[], editor="user:eve")  # fmt: skip
    submit(app, made.id, "user:sam")
    return made.id


@pytest.fixture
def low(app: Flask) -> int:
    """A submitted, low-impact proposal (no outcome changes): one approver accepts it."""
    logged(app)
    made = propose(app, reword())
    assert made.impact == "low"
    submit(app, made.id, "user:sam")
    return made.id


def test_an_analyst_submits_a_draft(app: Flask, login: Callable[..., Browser]) -> None:
    logged(app)
    made = propose(app)
    browser = login("analyst", username="sam")
    assert f'action="/proposals/{made.id}/submit"' in browser.get(f"/proposals/{made.id}").text
    page = follow(browser, act(browser, made.id, "submit"))
    assert f"Proposal {made.id} is submitted for review" in page
    assert record(app, made.id).submitted_by == "user:sam"
    again = act(browser, made.id, "submit")  # a second submission is refused, with a message
    assert again.status_code == 409
    assert "only a draft can be submitted" in again.text


@pytest.mark.parametrize("who", ["ann", "eve", "sam"])  # author, editor, submitter
def test_no_one_who_took_part_may_accept(
    app: Flask, login: Callable[..., Browser], high: int, who: str
) -> None:
    browser = login("approver", username=who)
    html = browser.get(f"/proposals/{high}").text
    assert f'action="/proposals/{high}/accept"' not in html  # not offered ...
    assert "four eyes" in text_of(section(html, "actions"))  # ... and the page says why
    events = audit_seq(app)
    response = act(browser, high, "accept", note="mine")  # ... and refused if sent anyway
    assert response.status_code == 403
    assert f"user:{who}" in response.text
    assert "may not approve it (four eyes)" in text_of(response.text)
    assert audit_seq(app) == events
    assert record(app, high).approvals == ()


def test_a_high_impact_proposal_needs_two_different_approvers(
    app: Flask, login: Callable[..., Browser], high: int
) -> None:
    first, second = login("approver", username="bob"), login("approver", username="cy")
    assert record(app, high).impact == "high"
    page = follow(first, act(first, high, "accept", note="fine by me"))
    assert "Your approval of proposal" in page
    assert "(1 of 2)" in page
    assert record(app, high).status == "submitted"
    again = act(first, high, "accept")  # the same approver twice is refused
    assert again.status_code == 403
    assert "already approved" in again.text
    page = follow(second, act(second, high, "accept"))
    assert "is accepted: version 2 of mortgage-approval is created" in page
    done = record(app, high)
    assert done.status == "accepted"
    assert [a.approver for a in done.approvals] == ["user:bob", "user:cy"]
    assert done.accepted_number == 2


def test_reject_needs_a_reason(app: Flask, login: Callable[..., Browser], high: int) -> None:
    browser = login("approver", username="bob")
    events = audit_seq(app)
    response = act(browser, high, "reject", reason="   ")
    assert response.status_code == 422
    error = response.text.split('id="reason-error"', 1)[1].split("</p>", 1)[0]
    assert "Give the reason for rejecting" in error
    assert record(app, high).status == "submitted"
    assert audit_seq(app) == events
    page = follow(browser, act(browser, high, "reject", reason="Too broad <b>for now</b>."))
    assert f"Proposal {high} is rejected" in page
    done = record(app, high)
    assert (done.status, done.decision_note) == ("rejected", "Too broad <b>for now</b>.")
    assert "Too broad &lt;b&gt;for now&lt;/b&gt;." in browser.get(f"/proposals/{high}").text


def test_a_stale_base_is_rebased_then_accepted(
    app: Flask, login: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RULEBOOK_IMPACT_MAX_CHANGED_SHARE", "1")  # one approver each
    logged(app)
    first, second = propose(app, raise_limit(0.33)), propose(app, DECLINE_HIGH_DEBT)
    submit(app, first.id)
    submit(app, second.id)
    approver = login("approver", username="bob")
    follow(approver, act(approver, first.id, "accept"))  # version 2
    refused = act(approver, second.id, "accept")
    assert refused.status_code == 409
    assert "rebase it" in refused.text
    assert "Stale base" in refused.text
    assert record(app, second.id).approvals == ()
    analyst = login("analyst")
    page = follow(analyst, act(analyst, second.id, "rebase"))
    assert f"Proposal {second.id} is rebased on version 2" in page
    assert record(app, second.id).base == 2
    assert act(analyst, second.id, "rebase").status_code == 409  # nothing left to rebase
    page = follow(approver, act(approver, second.id, "accept"))
    assert "version 3 of mortgage-approval is created" in page
    with db_of(app).session() as s:
        assert versions.get_version(s, NAME, 3).proposal_id == second.id


def test_accept_then_activate_and_roll_back(
    app: Flask, login: Callable[..., Browser], low: int
) -> None:
    approver = login("approver", username="bob")
    html = approver.get(f"/proposals/{low}").text
    assert f'action="/proposals/{low}/activate"' not in html  # not before acceptance
    assert act(approver, low, "activate", version="1").status_code == 409
    follow(approver, act(approver, low, "accept", note="reads well"))
    html = approver.get(f"/proposals/{low}").text
    assert "Active now: version 1" in text_of(section(html, "actions"))
    assert '<option selected value="2">Version 2 (created by this proposal)</option>' in html
    page = follow(approver, act(approver, low, "activate", version="2", activation_note="go"))
    assert "Version 2 of mortgage-approval is now active (version 1 was)" in page
    already = act(approver, low, "activate", version="2")
    assert already.status_code == 409
    assert "already active" in already.text
    page = follow(approver, act(approver, low, "activate", version="1", activation_note="undo"))
    assert "Version 1 of mortgage-approval is now active (version 2 was)" in page
    with db_of(app).session() as s:
        found = [(a.number, a.actor, a.note) for a in versions.activations(s, NAME)]
    assert found[-2:] == [(2, "user:bob", "go"), (1, "user:bob", "undo")]
    assert act(approver, low, "activate", version="9").status_code == 422  # not a version


def test_every_decision_is_in_a_verifying_audit_chain(
    app: Flask, login: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RULEBOOK_IMPACT_MAX_CHANGED_SHARE", "1")
    logged(app)
    kept, dropped = propose(app, raise_limit(0.33)), propose(app, reword())
    analyst, approver = login("analyst", username="sam"), login("approver", username="bob")
    for made in (kept, dropped):
        follow(analyst, act(analyst, made.id, "submit"))
    follow(approver, act(approver, dropped.id, "reject", reason="not needed"))
    follow(approver, act(approver, kept.id, "accept", note="ok"))
    follow(approver, act(approver, kept.id, "activate", version="2"))
    with db_of(app).session() as s:
        assert audit.verify(s).ok
        events = s.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.subject)).all()
    assert ("user:sam", "proposal.submitted", f"proposal:{kept.id}") in events
    assert ("user:bob", "proposal.rejected", f"proposal:{dropped.id}") in events
    assert ("user:bob", "proposal.accepted", f"proposal:{kept.id}") in events
    assert ("user:bob", "version.activated", f"ruleset:{NAME}") in events


def test_refusals_are_messages_not_server_errors(app: Flask, login: Callable[..., Browser]) -> None:
    logged(app)
    draft = propose(app)
    approver = login("approver", username="bob")
    response = act(approver, draft.id, "accept")
    assert response.status_code == 409
    assert "submit it first" in response.text
    assert 'class="flash flash--error"' in response.text
    assert f"Proposal #{draft.id}" in response.text  # the dossier, with the message on top
    assert act(approver, 999, "accept").status_code == 404
    assert act(login("analyst"), draft.id, "accept").status_code == 403  # role, from ACCESS


# Who may do what on the proposals pages (DESIGN §6), pinned so that widening a role is a
# visible change to a test. Rebasing is mechanical (the same operations on the latest version,
# evidence recomputed, approvals cleared), so an approver who meets a stale base may do it.
POLICY = {
    "proposals.index": {"analyst", "approver", "auditor", "admin"},
    "proposals.show": {"analyst", "approver", "auditor", "admin"},
    "proposals.edit": {"analyst"},
    "proposals.submit": {"analyst"},
    "proposals.accept": {"approver"},
    "proposals.reject": {"approver"},
    "proposals.rebase": {"analyst", "approver"},
    "proposals.activate": {"approver"},
}


@pytest.mark.parametrize("endpoint", sorted(POLICY))
def test_the_roles_of_the_proposals_pages(endpoint: str) -> None:
    assert set(access.ACCESS[endpoint]) == POLICY[endpoint]


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_read_only_roles_are_offered_no_action(
    login: Callable[..., Browser], high: int, role: str
) -> None:
    html = login(role).get(f"/proposals/{high}").text
    assert 'method="post" action="/proposals/' not in html
    assert f"Your role ({role}) reads proposals; it does not change them." in text_of(html)
