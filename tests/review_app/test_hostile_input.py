"""Hostile input in the review app is a 404 or a form error, never a 500, the same on SQLite
and PostgreSQL, and nothing is stored: ids beyond the columns, dates whose day or end cannot
be represented, NUL characters in forms and queries (issue 12: 2-4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from rules.store.models import AuditEvent, Decision, Proposal, Resolution, User
from tests.review_app.conftest import Browser, build_path, count

HUGE = "99999999999999999999"


def _int_routes(app: Flask) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and not rule.rule.startswith("/api/")
        and any(type(c).__name__ == "IdConverter" for c in rule._converters.values())
    ]


def test_every_page_with_an_id_in_its_path_is_a_404_for_an_id_beyond_the_columns(
    app: Flask, route_values: dict[str, Any], login: Callable[..., Browser]
) -> None:
    admin = login("admin")
    rules = _int_routes(app)
    assert {r.endpoint for r in rules} >= {"decisions.show", "proposals.show", "rulesets.version"}
    for rule in rules:
        path = build_path(app, rule, route_values)
        for value in (HUGE, str(2**63)):
            huge = {k: (value if k in rule._converters else v) for k, v in route_values.items()}
            huge_path = build_path(app, rule, {**huge, rule.endpoint: {}})
            assert huge_path != path
            r = admin.get(huge_path)
            assert r.status_code == 404, (huge_path, r.status_code)
    for method_path in (f"/decisions/{HUGE}/resolve", f"/proposals/{HUGE}/submit"):
        assert admin.post(method_path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "/audit?start=9999-12-31",
        "/audit?end=9999-12-31",
        "/audit?start=0001-01-01&end=9999-12-31",
        "/audit/export.csv?end=9999-12-31",
        "/audit/export.json?start=9999-12-31",
        f"/audit?before={HUGE}",
        f"/audit?after={HUGE}",
        "/decisions?start=9999-12-31",
        "/decisions?end=9999-12-31",
        f"/decisions?decision_id={HUGE}",
        f"/decisions?before={HUGE}",
        f"/decisions?after={HUGE}",
        f"/proposals?page={HUGE}",
        "/decisions?before=1",
        "/audit?before=1",
        "/decisions?after=1000",
        "/rulesets/mortgage-approval?at=9999-12-31T23:59:59",
        f"/rulesets/mortgage-approval/diff?a={HUGE}&b=1",
        f"/rulesets/mortgage-approval/diff?a=1&b={HUGE}",
    ],
)
def test_out_of_range_filters_are_answered_never_a_500(
    route_values: dict[str, Any], login: Callable[..., Browser], query: str
) -> None:
    admin = login("admin")
    r = admin.get(query)
    assert r.status_code in (200, 404, 422), (query, r.status_code)
    if "start=" in query or "end=" in query:
        assert r.status_code == 422
        assert "9999-12-30" in r.get_data(as_text=True)


@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("page", ["/audit", "/decisions"])
def test_a_date_beyond_the_calendar_is_a_form_error(
    route_values: dict[str, Any], login: Callable[..., Browser], page: str, field: str
) -> None:
    r = login("admin").get(page, query_string={field: "9999-12-31"})
    assert r.status_code == 422
    assert "9999-12-30" in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    ["/decisions?ruleset=a%00b", "/audit?actor=a%00b", "/audit?subject=%00", "/proposals?q=%00"],
)
def test_a_nul_in_a_query_is_a_422_naming_the_field(
    route_values: dict[str, Any], login: Callable[..., Browser], query: str
) -> None:
    r = login("admin").get(query)
    assert r.status_code == 422, r.status_code
    page = r.get_data(as_text=True)
    assert "NUL" in page


def test_a_nul_in_a_resolution_note_is_a_422_and_nothing_is_stored(
    app: Flask, route_values: dict[str, Any], login: Callable[..., Browser]
) -> None:
    reviewer = login("approver")
    decision_id = route_values["decision_id"]
    before = count(app, AuditEvent)
    r = reviewer.post(
        f"/decisions/{decision_id}/resolve",
        {"output_outcome": "approve", "note": "fine\x00really"},
    )
    assert r.status_code == 422, r.status_code
    page = r.get_data(as_text=True)
    assert "note" in page
    assert "NUL" in page
    assert count(app, Resolution) == 0
    assert count(app, AuditEvent) == before


def test_a_nul_in_a_new_user_name_is_a_422_and_nothing_is_stored(
    app: Flask, route_values: dict[str, Any], login: Callable[..., Browser]
) -> None:
    admin = login("admin")
    users = count(app, User)
    r = admin.post(
        "/admin/users",
        {"username": "eve\x00", "role": "analyst", "password": "correct horse battery staple"},
    )
    assert r.status_code == 422, r.status_code
    assert count(app, User) == users


def test_a_nul_in_a_proposal_edit_is_a_422(
    app: Flask, route_values: dict[str, Any], login: Callable[..., Browser]
) -> None:
    analyst = login("analyst", username="target-user")
    r = analyst.post(f"/proposals/{route_values['proposal_id']}/edit", {"rationale": "because\x00"})
    assert r.status_code == 422, r.status_code
    assert count(app, Proposal) == 1
    assert count(app, Decision) == 1


def test_a_resolution_without_the_review_output_is_a_form_error(
    app: Flask, route_values: dict[str, Any], login: Callable[..., Browser]
) -> None:
    approver = login("approver")
    path = f"/decisions/{route_values['decision_id']}/resolve"
    r = approver.post(path, {"output_outcome": "", "output_reason": "looked fine"})
    assert r.status_code == 422, r.status_code
    assert "outcome, the output a person reviews" in r.get_data(as_text=True)
    assert count(app, Resolution) == 0
    assert approver.post(path, {"output_outcome": "decline"}).status_code == 302
    assert count(app, Resolution) == 1
