"""The proposals queue: newest first, the evidence at a glance, filters by ruleset, status,
author and impact (a GET form), pagination; and ``/`` landing there for the reviewing roles."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from review_app.proposals import routes
from rules.core.document import parse_document
from rules.store import versions
from tests.review_app.conftest import Browser, db_of
from tests.review_app.test_proposals_support import (
    logged,
    propose,
    raise_limit,
    record,
    reword,
    submit,
    text_of,
)
from tests.rules.api.conftest import mortgage


def listed(html: str) -> list[int]:
    """The proposal ids in the queue's table, top to bottom."""
    table = html.split('id="proposals"', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'aria-label="Proposal (\d+)"', table)]


@pytest.fixture
def three(app: Flask) -> list[int]:
    """A high-impact draft by ann, a low-impact submitted one by llm, a high-impact one by
    baseline citing two decisions."""
    ids = logged(app)
    a = propose(app, raise_limit(0.35))
    b = propose(app, reword(), author="llm:gpt-4o-mini", actor="cli:run")
    submit(app, b.id)
    c = propose(app, raise_limit(0.34), author="baseline", actor="cli:run", citations=ids[2:4])
    return [a.id, b.id, c.id]


def test_the_queue_lists_proposals_newest_first_with_their_evidence(
    app: Flask, login: Callable[..., Browser], three: list[int]
) -> None:
    response = login("auditor").get("/proposals")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert listed(html) == sorted(three, reverse=True)
    row = text_of(html.split(f'aria-label="Proposal {three[2]}"', 1)[1].split("</tr>", 1)[0])
    # title, ruleset, base, status, impact, author, citations verified, outcomes changed
    assert "mortgage-approval" in row
    assert "v1" in row
    assert "draft" in row
    assert "high" in row
    assert "baseline" in row
    assert "1 of 2" in row  # one of the two cited decisions verified
    stored = record(app, three[2])
    assert stored.evidence is not None
    outcomes = stored.evidence["impact"]["changed"]  # the impact class's count, not any output
    assert f"{outcomes} of 9" in row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=submitted", [1]),
        ("status=draft", [2, 0]),
        ("impact=low", [1]),
        ("impact=high", [2, 0]),
        ("author=baseline", [2]),
        ("author=user%3Aann", [0]),
        ("author=nobody", []),
        ("ruleset=mortgage-approval&status=draft&impact=high", [2, 0]),
    ],
)
def test_filters(
    login: Callable[..., Browser], three: list[int], query: str, expected: list[int]
) -> None:
    response = login("analyst").get(f"/proposals?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    if expected:
        assert listed(html) == [three[i] for i in expected]
    else:
        assert "No proposal matches these filters." in html


def test_the_ruleset_filter_separates_rulesets(app: Flask, login: Callable[..., Browser]) -> None:
    logged(app)
    first = propose(app)
    other = parse_document({**mortgage().to_dict(), "name": "other-rules"})
    with db_of(app).session() as s:
        versions.create_ruleset(s, other, "cli:x")
    browser = login("approver")
    assert listed(browser.get("/proposals?ruleset=mortgage-approval").get_data(as_text=True)) == [
        first.id
    ]
    assert "No proposal matches" in browser.get("/proposals?ruleset=other-rules").get_data(
        as_text=True
    )


def test_an_invalid_filter_is_a_field_error_not_a_crash(
    login: Callable[..., Browser], three: list[int]
) -> None:
    response = login("analyst").get("/proposals?status=pending&ruleset=nope")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in html
    assert "There is a problem" in html
    assert listed(html) == sorted(three, reverse=True)  # shown unfiltered


def test_pages_of_the_queue(
    monkeypatch: pytest.MonkeyPatch, login: Callable[..., Browser], three: list[int]
) -> None:
    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    browser = login("analyst")
    first = browser.get("/proposals?impact=high").get_data(as_text=True)
    assert listed(first) == [three[2], three[0]]
    assert "Older proposals" not in first  # only two high-impact proposals
    page1 = browser.get("/proposals").get_data(as_text=True)
    assert listed(page1) == [three[2], three[1]]
    assert 'href="/proposals?page=2"' in page1
    page2 = browser.get("/proposals?page=2").get_data(as_text=True)
    assert listed(page2) == [three[0]]
    assert 'href="/proposals?page=1"' in page2
    assert "Older proposals" not in page2


@pytest.mark.parametrize("role", ["analyst", "approver", "auditor"])
def test_reviewing_roles_land_on_the_queue(login: Callable[..., Browser], role: str) -> None:
    response = login(role).get("/")
    assert response.status_code == 302
    assert response.location.endswith("/proposals")


def test_the_admin_keeps_the_home_page(login: Callable[..., Browser]) -> None:
    response = login("admin").get("/")
    assert response.status_code == 200
    assert "Welcome, admin" in response.get_data(as_text=True)
