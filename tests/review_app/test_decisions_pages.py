"""/decisions: search with filters and keyset pages, a decision's detail with its replay
(identical, and a tampered one that is not), personal data masked for roles that may not read
it, and recording a resolution: a bad value is a field error with nothing written, a good
one records the resolution and its audit event, and the chain still verifies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import update

from rules import audit
from rules.core.document import load_document
from rules.store import decisions, versions
from rules.store.models import Decision, Resolution
from tests.review_app.conftest import Browser, audit_seq, count, db_of
from tests.review_app.test_rulesets_pages import rows, text_of
from tests.rules.api.conftest import APPROVE, NAME, REFER, mortgage

IDS = re.compile(r'<tr id="decision-(\d+)">')


def ids(html: str) -> list[int]:
    return [int(n) for n in IDS.findall(html)]


@dataclass(frozen=True)
class Seeded:
    approved: int  # approved, then overridden to decline
    open_refer: int  # an exception nobody resolved
    resolved_refer: int  # an exception resolved to approve
    cli: int  # approved, made from the command line
    other: int  # another ruleset's decision


PII_DOC = """
name: applicants
inputs:
  - {name: score, type: number}
  - {name: applicant_name, type: string, required: false, pii: true}
  - {name: group, type: boolean, required: false, protected: true}
outputs:
  - {name: outcome, type: string, values: [accept, review], default: review}
  - {name: points, type: integer, default: 0}
hit_policy: FIRST
review: {output: outcome, values: [review]}
rules:
  - id: accept-high
    when: {input: score, op: ge, value: 0.5}
    then: {outcome: accept, points: 10}
"""


@pytest.fixture
def seeded(app: Flask) -> Seeded:
    with db_of(app).session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")
        versions.create_ruleset(s, load_document(PII_DOC), "cli:test")
        approved, _ = decisions.DecisionService().decide(
            NAME, APPROVE, caller="key:app", request_id="r-1", session=s
        )
        open_refer, _ = decisions.DecisionService().decide(NAME, REFER, caller="key:app", session=s)
        resolved, _ = decisions.DecisionService().decide(
            NAME, {**REFER, "hirat": 0.3}, caller="key:app", session=s
        )
        cli, _ = decisions.DecisionService().decide(
            NAME, APPROVE, caller="cli:test", source="cli", session=s
        )
        other, _ = decisions.DecisionService().decide(
            "applicants",
            {"score": 0.2, "applicant_name": "Zelda Quux", "group": True},
            caller="key:app",
            session=s,
        )
    with db_of(app).session() as s:
        decisions.resolve(s, approved.id, {"outcome": "decline"}, note="fraud", actor="user:x")
        decisions.resolve(s, resolved.id, {"outcome": "approve"}, note=None, actor="user:x")
    return Seeded(approved.id, open_refer.id, resolved.id, cli.id, other.id)


def chain_ok(app: Flask) -> bool:
    with db_of(app).session() as s:
        return audit.verify(s).ok


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["other", "cli", "resolved_refer", "open_refer", "approved"]),
        (f"ruleset={NAME}", ["cli", "resolved_refer", "open_refer", "approved"]),
        ("ruleset=applicants", ["other"]),
        ("exception=yes", ["other", "resolved_refer", "open_refer"]),
        ("exception=no", ["cli", "approved"]),
        ("exception=yes&resolved=no", ["other", "open_refer"]),
        ("resolved=yes", ["resolved_refer", "approved"]),
        ("override=yes", ["approved"]),
        ("override=no&resolved=yes", ["resolved_refer"]),
        ("source=cli", ["cli"]),
        (
            "start=2000-01-01&end=2999-12-31",
            ["other", "cli", "resolved_refer", "open_refer", "approved"],
        ),
        ("end=2000-01-01", []),
    ],
)
def test_search_filters(
    seeded: Seeded, login: Callable[..., Browser], query: str, expected: list[str]
) -> None:
    response = login("analyst").get(f"/decisions?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ids(html) == [getattr(seeded, name) for name in expected]
    if not expected:
        assert "No decisions match these filters." in html


def test_search_by_decision_id(seeded: Seeded, login: Callable[..., Browser]) -> None:
    html = login("analyst").get(f"/decisions?decision_id={seeded.cli}").get_data(as_text=True)
    assert ids(html) == [seeded.cli]


def test_bad_filters_are_field_errors(seeded: Seeded, login: Callable[..., Browser]) -> None:
    browser = login("analyst")
    response = browser.get("/decisions?ruleset=mortgage-aproval")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "There is no ruleset named &#39;mortgage-aproval&#39;; did you mean" in html
    assert ids(html) == []
    response = browser.get("/decisions?start=2026-02-01&end=2026-01-01")
    assert response.status_code == 422
    assert "The end date is before the start date" in response.get_data(as_text=True)


def test_keyset_pages(app: Flask, seeded: Seeded, login: Callable[..., Browser]) -> None:
    app.config["DECISIONS_PAGE_SIZE"] = 2
    browser = login("auditor")
    seen: list[int] = []
    path = f"/decisions?ruleset={NAME}"
    pages = []
    while path:
        html = browser.get(path).get_data(as_text=True)
        pages.append(ids(html))
        seen += pages[-1]
        older = re.search(r'href="([^"]+)" rel="next"', html)
        path = older.group(1).replace("&amp;", "&") if older else ""
    assert pages == [
        [seeded.cli, seeded.resolved_refer],
        [seeded.open_refer, seeded.approved],
    ]
    # the filter is kept across pages, and "newer" leads back
    html = browser.get(f"/decisions?ruleset={NAME}&before={seeded.resolved_refer}").get_data(
        as_text=True
    )
    newer = re.search(r'href="([^"]+)" rel="prev"', html)
    assert newer is not None
    back = browser.get(newer.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert ids(back) == [seeded.cli, seeded.resolved_refer]


# --------------------------------------------------------------------------- detail


def test_detail_shows_the_record_and_an_identical_replay(
    seeded: Seeded, login: Callable[..., Browser]
) -> None:
    response = login("analyst").get(f"/decisions/{seeded.approved}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Decision" in html
    assert "Identical: yes." in text_of(html, "replay")
    found = rows(html)
    assert found["fact-pirat"] == ["pirat", "0.25", "—"]
    assert found["fact-afam"] == ["afam", "not given", "protected"]
    assert "approve-clean-low-debt" in html  # the rule that decided it
    assert f"/rulesets/{NAME}/versions/1#rule-approve-clean-low-debt" in html
    assert "r-1" in html  # the request id
    # the override is in the history, newest first
    history = html[html.index('id="resolutions"') :]
    assert "outcome: <strong>decline</strong>" in history
    assert "override" in history
    assert "fraud" in history


def test_a_replay_that_differs_says_so(
    app: Flask, seeded: Seeded, login: Callable[..., Browser]
) -> None:
    with db_of(app).session() as s:  # a stored result that its version does not give
        s.execute(
            update(Decision)
            .where(Decision.id == seeded.cli)
            .values(outputs={"outcome": "decline", "reason": "tampered"})
        )
    html = login("auditor").get(f"/decisions/{seeded.cli}").get_data(as_text=True)
    replay = text_of(html, "replay")
    assert "Identical: no." in replay
    assert "the result differs in: outputs." in replay
    assert "tampered" in html  # stored, shown next to the replayed result
    assert "Low debt ratio and clean credit" in html


def test_personal_data_is_masked_unless_the_role_may_read_it(
    seeded: Seeded, login: Callable[..., Browser]
) -> None:
    path = f"/decisions/{seeded.other}"
    for role in ("analyst", "admin"):
        html = login(role).get(path).get_data(as_text=True)
        assert "Zelda Quux" not in html, role
        assert rows(html)["fact-applicant_name"] == [
            "applicant_name",
            "hidden: personal data",
            "personal data",
        ]
    for role in ("auditor", "approver"):
        html = login(role).get(path).get_data(as_text=True)
        assert rows(html)["fact-applicant_name"][1] == "Zelda Quux", role
    assert rows(html)["fact-group"] == ["group", "true", "protected"]


def test_unknown_decision_is_404(seeded: Seeded, login: Callable[..., Browser]) -> None:
    assert login("analyst").get("/decisions/999999").status_code == 404


# --------------------------------------------------------------------------- resolve


def test_the_form_has_a_field_per_output(seeded: Seeded, login: Callable[..., Browser]) -> None:
    html = login("analyst").get(f"/decisions/{seeded.open_refer}").get_data(as_text=True)
    form = html[html.index('id="resolve"') :]
    options = re.findall(r'<option[^>]*value="([^"]*)"', form)
    assert options == ["", "decline", "refer", "approve"]  # outcome's allowed values
    reason = re.search(r'<input[^>]*\bid="output_reason"[^>]*>', form)
    assert reason is not None  # a free-text output is a text field
    assert 'name="output_reason"' in reason.group(0)
    assert 'type="text"' in reason.group(0)
    assert "Automated result: refer." in form


def test_a_bad_value_is_a_field_error_and_nothing_is_written(
    app: Flask, seeded: Seeded, login: Callable[..., Browser]
) -> None:
    browser = login("analyst")
    seq, stored = audit_seq(app), count(app, Resolution)
    response = browser.post(
        f"/decisions/{seeded.open_refer}/resolve", {"output_outcome": "aprove", "note": "n"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = text_of(html, "output_outcome-error")
    assert "'aprove' is not one of decline, refer, approve (did you mean 'approve'?)" in error
    assert 'aria-invalid="true"' in html
    assert (audit_seq(app), count(app, Resolution)) == (seq, stored)


def test_an_empty_resolution_asks_for_an_output(
    app: Flask, seeded: Seeded, login: Callable[..., Browser]
) -> None:
    browser = login("approver")
    seq = audit_seq(app)
    response = browser.post(f"/decisions/{seeded.open_refer}/resolve", {"note": "n"})
    assert response.status_code == 422
    assert "Set at least one output to the value the person chose." in response.get_data(
        as_text=True
    )
    assert audit_seq(app) == seq


def test_a_bad_integer_is_refused_by_the_service_on_its_field(
    app: Flask, seeded: Seeded, login: Callable[..., Browser]
) -> None:
    browser = login("analyst")
    seq = audit_seq(app)
    response = browser.post(f"/decisions/{seeded.other}/resolve", {"output_points": "ten"})
    assert response.status_code == 422
    assert "expected an integer, got 'ten'" in text_of(
        response.get_data(as_text=True), "output_points-error"
    )
    assert audit_seq(app) == seq


def test_recording_a_resolution(app: Flask, seeded: Seeded, login: Callable[..., Browser]) -> None:
    browser = login("analyst", username="ann")
    seq = audit_seq(app)
    response = browser.post(
        f"/decisions/{seeded.open_refer}/resolve",
        {"output_outcome": "approve", "output_reason": "", "note": "Underwriter approved"},
    )
    assert response.status_code == 302
    assert response.location.endswith(f"/decisions/{seeded.open_refer}")
    html = browser.get(response.location).get_data(as_text=True)
    assert f"Recorded a resolution for decision {seeded.open_refer}: outcome = approve." in html
    with db_of(app).session() as s:
        record = decisions.get_decision(s, seeded.open_refer)
        events = list(audit.events(s, after=seq))
    assert record.resolution is not None
    assert record.resolution.outputs == {"outcome": "approve"}
    assert (record.resolution.actor, record.resolution.source) == ("user:ann", "review")
    assert record.resolution.note == "Underwriter approved"
    assert record.resolution.override is False  # an exception resolved, not an override
    assert [(e.action, e.actor, e.subject) for e in events] == [
        ("resolution.recorded", "user:ann", f"decision:{seeded.open_refer}")
    ]
    assert "Underwriter approved" in html[html.index('id="resolutions"') :]
    assert chain_ok(app)


def test_an_approver_overrides_an_automated_decision(
    app: Flask, seeded: Seeded, login: Callable[..., Browser]
) -> None:
    browser = login("approver")
    response = browser.post(
        f"/decisions/{seeded.cli}/resolve",
        {"output_outcome": "refer", "note": "needs a second look"},
    )
    assert response.status_code == 302
    html = browser.get(response.location).get_data(as_text=True)
    assert f"Recorded an override for decision {seeded.cli}: outcome = refer." in html
    html = browser.get("/decisions?override=yes").get_data(as_text=True)
    assert ids(html) == [seeded.cli, seeded.approved]
    assert chain_ok(app)


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_only_analysts_and_approvers_resolve(
    app: Flask, seeded: Seeded, login: Callable[..., Browser], role: str
) -> None:
    browser = login(role)
    seq = audit_seq(app)
    html = browser.get(f"/decisions/{seeded.open_refer}").get_data(as_text=True)
    assert "Record the resolution" not in html
    response = browser.post(
        f"/decisions/{seeded.open_refer}/resolve", {"output_outcome": "approve"}
    )
    assert response.status_code == 403
    assert audit_seq(app) == seq
