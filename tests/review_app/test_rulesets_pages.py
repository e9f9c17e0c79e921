"""/rulesets: the list with counts, a ruleset's version timeline and activation history, "which
version was active at T", a version as a decision table (each operator's cell checked against
text written out here by hand), two versions compared, and activation / rollback (approvers
only, recorded with an audit event, the chain still verifying)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from review_app.rulesets.compare import side_by_side
from review_app.rulesets.table import value_text
from rules import audit
from rules.core.document import Document, load_document
from rules.store import decisions, versions
from rules.store.models import Activation
from tests.review_app.conftest import Browser, audit_seq, count, db_of
from tests.rules.api.conftest import APPROVE, MORTGAGE, NAME, REFER, mortgage

VOID = frozenset({"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"})


class Rows(HTMLParser):
    """The visible text of each cell of each ``<tr id=...>`` (visually hidden text left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._stack: list[tuple[str, bool]] = []
        self._row: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            if tag == "br" and self._cell is not None:
                self._cell.append(" ")
            return
        found = dict(attrs)
        hidden = "visually-hidden" in (found.get("class") or "").split()
        self._stack.append((tag, hidden))
        if tag == "tr" and found.get("id"):
            self._row = found["id"]
            self.rows[str(self._row)] = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop()[0] != tag:
            pass
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self.rows[self._row].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not any(hidden for _, hidden in self._stack):
            self._cell.append(data)


def rows(html: str) -> dict[str, list[str]]:
    parser = Rows()
    parser.feed(html)
    return parser.rows


def text_of(html: str, element_id: str) -> str:
    """The visible text of the element with ``id`` (up to its closing tag, roughly)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(div|section|p)>', html, re.S)
    assert found, f"no element #{element_id}"
    return " ".join(unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def mortgage_v2() -> Document:
    """The approval threshold raised, the insurance rule removed, a debt rule added, a new
    title: one rule changed, one removed, one added, one setting changed."""
    text = MORTGAGE.read_text(encoding="utf-8")
    text = text.replace("value: 0.30", "value: 0.35").replace(
        "title: Mortgage pre-approval", "title: Mortgage pre-approval (2)"
    )
    start = text.index("  - id: decline-insurance-denied")
    end = text.index("  - id: approve-clean-low-debt")
    text = text[:start] + text[end:]
    text += (
        "  - id: decline-high-debt\n"
        "    when: {input: pirat, op: gt, value: 0.6}\n"
        "    then: {outcome: decline, reason: Debt ratio too high}\n"
    )
    return load_document(text.encode("utf-8"))


@pytest.fixture
def two_versions(app: Flask) -> None:
    """The mortgage ruleset: version 1 (active) and version 2 (not active)."""
    with db_of(app).session() as s:
        versions.create_ruleset(s, mortgage(), "cli:test")
        versions.create_version(s, NAME, mortgage_v2(), base=1, actor="user:ann", proposal_id=None)


def chain_ok(app: Flask) -> bool:
    with db_of(app).session() as s:
        return audit.verify(s).ok


# --------------------------------------------------------------------------- the list


def test_index_lists_versions_decisions_and_open_exceptions(
    app: Flask, two_versions: None, login: Callable[..., Browser]
) -> None:
    with db_of(app).session() as s:
        decisions.DecisionService().decide(NAME, APPROVE, caller="cli:test", session=s)
        decisions.DecisionService().decide(NAME, REFER, caller="cli:test", session=s)
        resolved, _ = decisions.DecisionService().decide(
            NAME, {**REFER, "hirat": 0.3}, caller="cli:test", session=s
        )
        decisions.resolve(s, resolved.id, {"outcome": "approve"}, note=None, actor="user:x")
    html = login("analyst").get("/rulesets").get_data(as_text=True)
    row = rows(html)[f"ruleset-{NAME}"]
    # title and name, active, latest (flagged), decisions, open exceptions
    assert row == [
        f"Mortgage pre-approval {NAME}",
        "Version 1",
        "Version 2 not active",
        "3",
        "1",
    ]
    assert f"/decisions?ruleset={NAME}&amp;exception=yes&amp;resolved=no" in html


# --------------------------------------------------------------------------- timeline


def test_timeline_and_activation_history(
    app: Flask, two_versions: None, login: Callable[..., Browser]
) -> None:
    html = login("auditor").get(f"/rulesets/{NAME}").get_data(as_text=True)
    with db_of(app).session() as s:
        v1, v2 = versions.list_versions(s, NAME)
    found = rows(html)
    assert found["version-2"][:6] == [
        "Version 2",
        "not active",
        v2.hash[:12],
        "Version 1",
        "user:ann",
        "Created directly",
    ]
    assert found["version-1"][:6] == [
        "Version 1",
        "active",
        v1.hash[:12],
        "—",
        "cli:test",
        "Created directly",
    ]
    assert '<h2 id="activations">Activation history</h2>' in html
    assert "first activation" in html
    # an auditor may not activate: no activation form is offered
    assert "/activate" not in html


def test_approver_is_offered_activation_with_what_it_changes(
    two_versions: None, login: Callable[..., Browser]
) -> None:
    html = login("approver").get(f"/rulesets/{NAME}").get_data(as_text=True)
    assert f'action="/rulesets/{NAME}/versions/2/activate"' in html
    assert "Activate version 2…" in html
    assert "/versions/1/activate" not in html  # version 1 is already active
    what = text_of(html, "activate-2-what")
    assert what == (
        "Replaces version 1 (active now) with version 2 for new decisions. "
        "Review the changes (version 1 → 2)."
    )
    assert f"/rulesets/{NAME}/diff?a=1&amp;b=2" in html


def test_active_at_a_time(app: Flask, two_versions: None, login: Callable[..., Browser]) -> None:
    browser = login("analyst")
    with db_of(app).session() as s:
        versions.activate(s, NAME, 2, "user:approver", "go")
        first, second = versions.activations(s, NAME)

    def ask(at: str) -> tuple[int, str]:
        response = browser.get(f"/rulesets/{NAME}?at={at}")
        html = response.get_data(as_text=True)
        answer = text_of(html, "active-at-answer") if "active-at-answer" in html else ""
        return response.status_code, answer

    fmt = "%Y-%m-%dT%H:%M:%S.%f"
    before = (first.at - timedelta(seconds=1)).strftime(fmt)
    assert "no version of mortgage-approval was active yet" in ask(before)[1]
    between = (second.at - timedelta(microseconds=1)).strftime(fmt)
    assert "version 1 was active" in ask(between)[1]
    assert "version 2 was active" in ask(second.at.strftime(fmt))[1]
    later = (second.at + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    status, answer = ask(later)
    assert status == 200
    assert "version 2 was active" in answer
    assert "user:approver" in answer
    status, answer = ask("yesterday")
    assert status == 422
    assert answer == ""


# --------------------------------------------------------------------------- a version

TABLE_DOC = """
name: table-demo
inputs:
  - {name: score, type: number, min: 0, max: 1}
  - {name: band, type: string, values: [a, b, c]}
  - {name: flag, type: boolean}
  - {name: age, type: integer, required: false}
  - {name: code, type: string, required: false}
  - {name: applicant, type: string, required: false, pii: true}
  - {name: group, type: boolean, required: false, protected: true}
outputs:
  - {name: outcome, type: string, values: [x, y], default: y}
  - {name: note, type: string, default: none given}
hit_policy: RULE ORDER
rules:
  - id: r-ge
    description: High score
    when: {input: score, op: ge, value: 0.36}
    then: {outcome: x, note: high}
  - id: r-in
    when: {input: band, op: in, value: [a, b]}
    then: {outcome: x}
  - id: r-between
    when: {input: age, op: between, value: {low: 18, high: 65}}
    then: {outcome: y}
  - id: r-between-open
    when:
      input: age
      op: between
      value: {low: 18, high: 65, low_inclusive: false, high_inclusive: false}
    then: {outcome: y}
  - id: r-null
    when: {input: code, op: is_null}
    then: {outcome: y}
  - id: r-not-null
    when: {input: code, op: not_null}
    then: {outcome: y}
  - id: r-not
    when: {not: {input: flag, op: eq, value: true}}
    then: {outcome: y}
  - id: r-eq
    when: {all: [{input: band, op: eq, value: c}, {input: flag, op: eq, value: false}]}
    then: {outcome: x}
  - id: r-range
    when: {all: [{input: score, op: lt, value: 0.2}, {input: score, op: ge, value: 0.1}]}
    then: {outcome: x}
  - id: r-any
    when: {any: [{input: score, op: gt, value: 0.9}, {input: flag, op: eq, value: true}]}
    then: {outcome: x}
  - id: r-misc
    when:
      all:
        - {input: band, op: not_in, value: [c]}
        - {input: age, op: ne, value: 30}
        - {input: score, op: le, value: 1}
    then: {outcome: x}
  - id: r-always
    then: {note: always}
"""
A = "\u2013"  # an en dash: any value
D = "none given (default)"
# position, rule, score, band, flag, age, code, other conditions, outcome, note
EXPECTED = {
    "r-ge": ["1", "r-ge High score", "≥ 0.36", A, A, A, A, "", "x", "high"],
    "r-in": ["2", "r-in", A, "in {a, b}", A, A, A, "", "x", D],
    "r-between": ["3", "r-between", A, A, A, "≥ 18 and ≤ 65", A, "", "y", D],
    "r-between-open": ["4", "r-between-open", A, A, A, "> 18 and < 65", A, "", "y", D],
    "r-null": ["5", "r-null", A, A, A, A, "is null", "", "y", D],
    "r-not-null": ["6", "r-not-null", A, A, A, A, "is not null", "", "y", D],
    "r-not": ["7", "r-not", A, A, "not (= true)", A, A, "", "y", D],
    "r-eq": ["8", "r-eq", A, "= c", "= false", A, A, "", "x", D],
    "r-range": ["9", "r-range", "< 0.2 and ≥ 0.1", A, A, A, A, "", "x", D],
    "r-any": ["10", "r-any", A, A, A, A, A, "score > 0.9 or flag = true", "x", D],
    "r-misc": ["11", "r-misc", "≤ 1", "not in {c}", A, "≠ 30", A, "", "x", D],
    "r-always": ["12", "r-always", A, A, A, A, A, "", "y (default)", "always"],
}


def test_version_page_is_a_readable_decision_table(
    app: Flask, login: Callable[..., Browser]
) -> None:
    doc = load_document(TABLE_DOC)
    with db_of(app).session() as s:
        info = versions.create_ruleset(s, doc, "cli:test")
    response = login("analyst").get("/rulesets/table-demo/versions/1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    found = rows(html)
    for rule_id, expected in EXPECTED.items():
        assert found[f"rule-{rule_id}"] == expected, rule_id
    # one column per input a rule tests on its own, in the document's order
    assert re.findall(r'id="col-(\w+)"', html) == ["score", "band", "flag", "age", "code"]
    assert "Hit policy: RULE ORDER." in html
    assert "the defaults apply: outcome = y, note = none given." in html
    assert found["input-group"][4] == "protected"
    assert found["input-applicant"][4] == "personal data"
    assert found["input-score"][5] == "4 rules"
    # the raw document and its hash
    assert info.hash in html
    assert "name: table-demo" in html
    assert "hit_policy: RULE ORDER" in html


def test_unknown_version_is_404(two_versions: None, login: Callable[..., Browser]) -> None:
    response = login("analyst").get(f"/rulesets/{NAME}/versions/7")
    assert response.status_code == 404
    assert "has no version 7; versions are 1 to 2" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (0.3, "0.3"),
        (2.0, "2"),
        (12, "12"),
        ("approve", "approve"),
        ("No rule matched", "No rule matched"),
        ("true", '"true"'),
        ("12", '"12"'),
        ("a, b", '"a, b"'),
        (" padded", '" padded"'),
        ("", '""'),
        (None, "null"),
    ],
)
def test_values_are_quoted_only_when_ambiguous(value: object, text: str) -> None:
    assert value_text(value) == text  # type: ignore[arg-type]


# --------------------------------------------------------------------------- diff


def diff_cells(html: str, section: str) -> list[tuple[str, str]]:
    """(kind, text) of each side-by-side cell in the section with id ``section``."""
    start = html.index(f'id="{section}"')
    end = html.index("</section>", start)
    cells = re.findall(r'<td class="diff-cell diff-(\w+)">(.*?)</td>', html[start:end], re.S)
    return [(kind, re.sub(r"<[^>]+>", "", text)) for kind, text in cells]


def test_diff_shows_added_removed_changed_rules_and_settings(
    two_versions: None, login: Callable[..., Browser]
) -> None:
    response = login("analyst").get(f"/rulesets/{NAME}/diff?a=1&b=2")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    summary = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "1 rule added: decline-high-debt" in summary
    assert "1 rule removed: decline-insurance-denied" in summary
    assert "1 rule changed: approve-clean-low-debt" in summary
    assert "1 setting changed: title" in summary
    changed = diff_cells(html, "change-approve-clean-low-debt")
    # side by side: left (version 1), right (version 2), row by row
    assert ("del", "-removed:   pirat ≤ 0.3") in changed
    assert ("add", "+added:   pirat ≤ 0.35") in changed
    assert ("same", "   chist in {1, 2}") in changed
    added = diff_cells(html, "change-decline-high-debt")
    assert ("add", "+added: when: pirat &gt; 0.6") in added
    assert all(kind in ("none", "add") for kind, _ in added)
    removed = diff_cells(html, "change-decline-insurance-denied")
    assert ("del", "-removed: when: insurance = true") in removed
    title = diff_cells(html, "setting-title")
    assert ("del", "-removed: title: Mortgage pre-approval") in title
    assert ("add", "+added: title: Mortgage pre-approval (2)") in title


def test_diff_of_a_missing_version_names_the_range(
    two_versions: None, login: Callable[..., Browser]
) -> None:
    response = login("analyst").get(f"/rulesets/{NAME}/diff?a=1&b=9")
    assert response.status_code == 422
    assert "There is no version 9: choose one from 1 to 2." in response.get_data(as_text=True)


def test_diff_defaults_to_active_against_latest(
    two_versions: None, login: Callable[..., Browser]
) -> None:
    html = login("analyst").get(f"/rulesets/{NAME}/diff").get_data(as_text=True)
    assert "Summary: version 1 → version 2" in html


@given(
    st.lists(st.sampled_from("abcde"), max_size=8), st.lists(st.sampled_from("abcde"), max_size=8)
)
def test_side_by_side_keeps_both_versions_in_order(a: list[str], b: list[str]) -> None:
    aligned = side_by_side(a, b)
    assert [left.text for left, _ in aligned if left.mark in "- " and left.mark] == a
    assert [right.text for _, right in aligned if right.mark in "+ " and right.mark] == b
    for left, right in aligned:
        assert left.mark or right.mark  # no empty row
        assert left.mark in ("-", " ", "")
        assert right.mark in ("+", " ", "")
        if left.mark == " " or right.mark == " ":
            assert left.mark == right.mark == " "
            assert left.text == right.text


# --------------------------------------------------------------------------- activation


def test_activate_then_roll_back(
    app: Flask, two_versions: None, login: Callable[..., Browser]
) -> None:
    browser = login("approver")
    seq = audit_seq(app)
    path = f"/rulesets/{NAME}/versions/2/activate"
    response = browser.post(path, {"note": "Go live with 0.35"})
    assert response.status_code == 302
    assert response.location.endswith(f"/rulesets/{NAME}")
    html = browser.get(f"/rulesets/{NAME}").get_data(as_text=True)
    assert "Version 2 of mortgage-approval is now active (version 1 was active)." in html
    with db_of(app).session() as s:
        assert versions.get_ruleset(s, NAME).active_number == 2
        event = list(audit.events(s, after=seq))
    assert [(e.action, e.actor) for e in event] == [("version.activated", "user:approver")]
    assert event[0].payload == {
        "ruleset": NAME,
        "number": 2,
        "previous": 1,
        "note": "Go live with 0.35",
    }

    response = browser.post(f"/rulesets/{NAME}/versions/1/activate", {"note": "Too many"})
    assert response.status_code == 302
    html = browser.get(f"/rulesets/{NAME}").get_data(as_text=True)
    assert "Rolled mortgage-approval back to version 1 (version 2 was active)." in html
    table = html[html.index('id="activation-history"') :]
    kinds = re.findall(r'<td data-label="Kind">\s*<span class="badge[^"]*">([^<]+)</span>', table)
    assert kinds == ["rollback", "activation", "first activation"]
    assert "Too many" in table
    assert count(app, Activation) == 3
    assert chain_ok(app)


@pytest.mark.parametrize("role", ["analyst", "auditor", "admin"])
def test_only_approvers_activate(
    app: Flask, two_versions: None, login: Callable[..., Browser], role: str
) -> None:
    browser = login(role)
    seq = audit_seq(app)
    response = browser.post(f"/rulesets/{NAME}/versions/2/activate", {"note": "x"})
    assert response.status_code == 403
    assert audit_seq(app) == seq
    assert count(app, Activation) == 1


def test_a_too_long_note_is_a_field_error(
    app: Flask, two_versions: None, login: Callable[..., Browser]
) -> None:
    browser = login("approver")
    seq = audit_seq(app)
    response = browser.post(f"/rulesets/{NAME}/versions/2/activate", {"note": "x" * 1001})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="note-v2-error"' in html
    assert "Keep the note to 1000 characters or fewer." in html
    assert 'class="activate panel panel--bad" id="activate-v2"' in html  # marked in error
    assert audit_seq(app) == seq
    assert count(app, Activation) == 1


def test_activating_the_active_version_changes_nothing(
    app: Flask, two_versions: None, login: Callable[..., Browser]
) -> None:
    browser = login("approver")
    seq = audit_seq(app)
    response = browser.post(f"/rulesets/{NAME}/versions/1/activate", {})
    assert response.status_code == 302
    html = browser.get(f"/rulesets/{NAME}").get_data(as_text=True)
    assert "Nothing changed: version 1 of mortgage-approval is already active." in html
    assert audit_seq(app) == seq
    assert browser.post(f"/rulesets/{NAME}/versions/9/activate", {}).status_code == 404
    assert audit_seq(app) == seq
