"""Editing a proposal through the form: its fields show the rule, an unchanged form saves the
same operations, every error lands on the field it is about (and nothing is written), a good
edit records the editor with fresh evidence, "Add a condition" works without JavaScript, the
advanced JSON wins when its button is pressed, and a concurrent change is not overwritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from proposer import edit_proposal
from review_app.proposals.values import format_value, parse_value
from rules.core.document import Between, Input, parse_document
from rules.store.models import AuditEvent
from tests.review_app.conftest import Browser, audit_seq, db_of
from tests.review_app.test_proposals_support import (
    fields_of,
    logged,
    propose,
    raise_limit,
    record,
    text_of,
)

COND = "rules-0-conditions-{}-{}"


@pytest.fixture
def made(app: Flask) -> int:
    logged(app)
    return propose(app, citations=[3]).id


@pytest.fixture
def eve(login: Callable[..., Browser]) -> Browser:
    return login("analyst", username="eve")


def editor(browser: Browser, proposal_id: int) -> dict[str, str]:
    response = browser.get(f"/proposals/{proposal_id}/edit")
    assert response.status_code == 200
    return fields_of(response.get_data(as_text=True), f"/proposals/{proposal_id}/edit")


def save(browser: Browser, proposal_id: int, data: dict[str, str], button: str = "save") -> Any:
    return browser.post(f"/proposals/{proposal_id}/edit", {**data, button: "y"})


def test_the_editor_shows_the_rule_as_fields(eve: Browser, made: int) -> None:
    data = editor(eve, made)
    assert data[COND.format(0, "input")] == "pirat"
    assert data[COND.format(0, "op")] == "le"
    assert data[COND.format(0, "value")] == "0.35"
    assert data[COND.format(1, "value")] == "1, 2"
    assert data[COND.format(2, "negate")] == "y"  # not phist = true
    assert data["rules-0-outputs-out_outcome"] == "approve"
    assert data["rules-0-outputs-out_reason"] == "Low debt ratio and clean credit"
    assert data["citations"] == "3"
    assert data["rationale"].startswith("Applicants just over the limit")
    assert json.loads(data["operations_json"])[0]["op"] == "update_rule"


def test_saving_the_form_unchanged_keeps_the_operations(
    app: Flask, eve: Browser, made: int
) -> None:
    before = record(app, made)
    response = save(eve, made, editor(eve, made))
    assert response.status_code == 302, text_of(response.get_data(as_text=True))[:800]
    after = record(app, made)
    assert [op.to_dict() for op in after.operations] == [op.to_dict() for op in before.operations]
    assert after.candidate_hash == before.candidate_hash
    assert after.editors == ("user:eve",)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({COND.format(0, "value"): "abc"}, COND.format(0, "value"), "is not a number"),
        ({COND.format(0, "value"): "5"}, COND.format(0, "value"), "above input 'pirat''s maximum 3"),
        ({COND.format(1, "input"): "afam", COND.format(1, "op"): "eq", COND.format(1, "value"): "true"},
         COND.format(1, "input"), "is protected"),
        ({COND.format(2, "value"): "3"}, COND.format(2, "value"), "not true or false"),
        ({COND.format(1, "op"): "between", COND.format(1, "value"): "1"}, COND.format(1, "value"),
         "two values, low and high"),
        ({"rules-0-outputs-out_outcome": "maybe"}, "rules-0-outputs-out_outcome",
         "is not one of output 'outcome''s values"),
        # The first row is dropped, so the service's all[0] is the form's second row.
        ({COND.format(0, "input"): "", COND.format(1, "value"): "1, 9"}, COND.format(1, "value"),
         "9 is above input 'chist''s maximum 6"),
        ({"citations": "3, x"}, "citations", "'x' is not a decision id"),
        ({"citations": "999999"}, None, None),  # a cited id that does not exist: a verdict
        ({"rationale": "  "}, "rationale", "Say why the change is right"),
    ],
)  # fmt: skip
def test_an_error_lands_on_its_field_and_nothing_is_written(
    app: Flask, eve: Browser, made: int, changes: dict[str, str], field: str | None, message: str
) -> None:
    before, events = record(app, made), audit_seq(app)
    response = save(eve, made, {**editor(eve, made), **changes})
    if field is None:  # not an error: the system's verdict says the decision is unknown
        assert response.status_code == 302
        assert record(app, made).evidence["citations"]["verdicts"][0]["verdict"] == "not_found"
        return
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    error = html.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0]
    assert message in text_of(error)
    assert f'href="#{field}"' in html  # linked from the summary at the top
    assert "Nothing was saved" in html
    assert changes.get(field, "") in html  # what was typed is kept
    assert record(app, made) == before
    assert audit_seq(app) == events


def test_a_good_edit_records_the_editor_and_fresh_evidence(
    app: Flask, eve: Browser, made: int
) -> None:
    before = record(app, made)
    data = {**editor(eve, made), COND.format(0, "value"): "0.31", "title": "Raise to 0.31"}
    response = save(eve, made, data)
    assert response.status_code == 302
    after = record(app, made)
    assert after.editors == ("user:eve",)
    assert after.title == "Raise to 0.31"
    rule = after.candidate.to_dict()["rules"][1]
    assert rule["when"]["all"][0] == {"input": "pirat", "op": "le", "value": 0.31}
    changed = after.evidence["backtest"]["changed"]
    assert changed != before.evidence["backtest"]["changed"]  # the backtest was re-run
    page = eve.client.get(response.location).get_data(as_text=True)
    assert f"Saved proposal {made}." in text_of(page)
    assert f"{changed:,} of 9 replayed decisions change; impact {after.impact}" in text_of(page)
    with db_of(app).session() as s:
        actors = s.scalars(
            select(AuditEvent.actor).where(
                AuditEvent.action == "proposal.edited", AuditEvent.subject == f"proposal:{made}"
            )
        ).all()
    assert actors == ["user:eve"]


def test_add_a_condition_without_javascript(app: Flask, eve: Browser, made: int) -> None:
    events = audit_seq(app)
    response = save(eve, made, editor(eve, made), button="rules-0-add_condition")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="{COND.format(3, "input")}"' in html  # a fourth, empty row
    assert audit_seq(app) == events  # nothing saved yet
    data = fields_of(html, f"/proposals/{made}/edit")
    data.update({COND.format(3, "input"): "hirat", COND.format(3, "op"): "le",
                 COND.format(3, "value"): "0.5"})  # fmt: skip
    assert save(eve, made, data).status_code == 302
    rule = record(app, made).candidate.to_dict()["rules"][1]
    assert rule["when"]["all"][3] == {"input": "hirat", "op": "le", "value": 0.5}


def test_the_json_wins_when_its_button_is_pressed(app: Flask, eve: Browser, made: int) -> None:
    data = {**editor(eve, made), "operations_json": json.dumps(raise_limit(0.32))}
    data[COND.format(0, "value")] = "0.99"  # ignored: the JSON is saved
    assert save(eve, made, data, button="save_json").status_code == 302
    rule = record(app, made).candidate.to_dict()["rules"][1]
    assert rule["when"]["all"][0]["value"] == 0.32


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{", "not valid JSON at line 1, column 3"),
        ('[{"op": "remove_rule", "rule_id": "nope"}]', "operations[0].rule_id: there is no rule"),
        ("[" * 5000 + "]" * 5000, "nests deeper than 32 levels"),  # issue 12: not a 500
        ("[" * 40 + "]" * 40, "nests deeper than 32 levels"),
        ('[{"op": "remove_rule", "rule_id": "a\\u0000"}]', "[0].rule_id: contains a NUL"),
    ],
)
def test_json_errors_land_on_the_json_field(
    app: Flask, eve: Browser, made: int, text: str, message: str
) -> None:
    before = record(app, made)
    response = save(eve, made, {**editor(eve, made), "operations_json": text}, button="save_json")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    error = html.split('id="operations_json-error"', 1)[1].split("</p>", 1)[0]
    assert message in text_of(error)
    assert record(app, made) == before


def test_a_concurrent_change_is_not_overwritten(app: Flask, eve: Browser, made: int) -> None:
    data = editor(eve, made)
    with db_of(app).session() as s:  # someone else saves first
        edit_proposal(s, made, operations=raise_limit(0.33), rationale="theirs", citations=[],
                      editor="user:zoe")  # fmt: skip
    response = save(eve, made, {**data, COND.format(0, "value"): "0.31"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "was changed by someone else" in html
    after = record(app, made)
    assert after.editors == ("user:zoe",)
    assert after.rationale == "theirs"
    # Saving again on purpose, from the form as shown (its stamp now current), replaces it.
    again = fields_of(html, f"/proposals/{made}/edit")
    assert save(eve, made, again).status_code == 302
    assert record(app, made).editors == ("user:zoe", "user:eve")


def test_a_closed_proposal_cannot_be_edited(app: Flask, eve: Browser, made: int) -> None:
    from proposer import reject_proposal

    with db_of(app).session() as s:
        reject_proposal(s, made, actor="user:bob", reason="no")
    response = eve.get(f"/proposals/{made}/edit")
    assert response.status_code == 302
    page = eve.client.get(response.location).get_data(as_text=True)
    assert "only a draft or submitted proposal can be edited" in page


# --------------------------------------------------------------------------- values as text

SCALARS = {
    "number": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "integer": st.integers(min_value=-(2**53), max_value=2**53),
    "boolean": st.booleans(),
    "string": st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
}


@given(st.sampled_from(sorted(SCALARS)).flatmap(lambda t: st.tuples(st.just(t), SCALARS[t])))
def test_a_value_reads_back_as_written(case: tuple[str, Any]) -> None:
    kind, value = case
    spec = Input("x", kind)
    if kind == "string" and value == "":
        return  # an empty value is "no value given", refused on the field
    assert parse_value(format_value(value), "eq", spec) == value


@given(
    st.sampled_from(sorted(SCALARS)).flatmap(
        lambda t: st.tuples(st.just(t), st.lists(SCALARS[t], min_size=1, max_size=5))
    )
)
def test_a_list_reads_back_as_written(case: tuple[str, list[Any]]) -> None:
    kind, values = case
    if kind == "string" and any(not v.strip() for v in values):
        return  # blank items are refused ("an item is empty")
    assert parse_value(format_value(tuple(values)), "in", Input("x", kind)) == values


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.booleans(), st.booleans())
def test_a_range_reads_back_as_written(low: float, high: float, lo_in: bool, hi_in: bool) -> None:
    text = format_value(Between(low, high, lo_in, hi_in))
    found = parse_value(text, "between", Input("x", "number"))
    assert found == {"low": low, "high": high, "low_inclusive": lo_in, "high_inclusive": hi_in}


def test_a_rule_round_trips_through_the_documents_parser() -> None:
    """What the editor sends parses as the document's own rule format."""
    spec = Input("name", "string")
    value = parse_value('"Smith, J", O\'Neil', "in", spec)
    doc = parse_document({"name": "x", "inputs": [{"name": "name", "type": "string"}],
                          "outputs": [{"name": "o", "type": "string"}], "hit_policy": "FIRST",
                          "rules": [{"id": "r", "when": {"input": "name", "op": "in", "value": value},
                                     "then": {"o": "y"}}]})  # fmt: skip
    assert doc.rules[0].when.value == ("Smith, J", "O'Neil")  # type: ignore[union-attr]
