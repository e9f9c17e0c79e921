"""Shared cases for the proposals pages' tests (no tests here): the mortgage ruleset with a
small resolved log, proposals made through the real service, and readers for the HTML.

The log (examples/mortgage.yaml, as in tests/proposer/test_proposals.py): nine decisions,
five resolved by a person. ``raise_limit`` raises the approve rule's debt-ratio limit, which
changes several outcomes (high impact); ``reword`` changes only the approve rule's reason
text, so no outcome changes (low impact: one approver).
"""

from __future__ import annotations

import copy
import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

from flask import Flask

from proposer import ProposalRecord, create_proposal, get_proposal, submit_proposal
from rules.core.document import Document, parse_document
from rules.store import decisions, versions
from tests.review_app.conftest import db_of
from tests.rules.api.conftest import APPROVE, NAME, mortgage

__all__ = [
    "APPROVE_RULE",
    "LOG",
    "NAME",
    "FormReader",
    "fields_of",
    "logged",
    "propose",
    "raise_limit",
    "record",
    "reword",
    "section",
    "submit",
    "text_of",
    "with_pii_input",
]

APPROVE_RULE = "approve-clean-low-debt"
LOG: list[tuple[dict[str, Any], str | None]] = [
    ({"pirat": 0.20, "insurance": True}, None),
    ({"pirat": 0.25}, "approve"),
    ({"pirat": 0.32}, "approve"),
    ({"pirat": 0.34, "chist": 2}, "decline"),
    ({"pirat": 0.40}, "decline"),
    ({"pirat": 0.33, "chist": 3}, None),
    ({"pirat": 0.31, "chist": 2, "phist": True}, None),
    ({"pirat": 0.35}, None),
    ({"pirat": 0.30}, "decline"),
]


def logged(
    app: Flask, doc: Document | None = None, extra: dict[str, Any] | None = None
) -> list[int]:
    """Version 1 of ``doc`` (default: the mortgage ruleset) and the LOG's decisions (with
    ``extra`` facts each), resolved as listed; their ids in LOG order."""
    with db_of(app).session() as s:
        versions.create_ruleset(s, doc or mortgage(), "cli:setup")
    ids = []
    for change, outcome in LOG:
        with db_of(app).session() as s:
            found, _ = decisions.DecisionService().decide(
                NAME, {**APPROVE, **change, **(extra or {})}, caller="t", session=s
            )
            ids.append(found.id)
            if outcome is not None:
                decisions.resolve(s, found.id, {"outcome": outcome}, note=None, actor="ann")
    return ids


def _approve_rule() -> dict[str, Any]:
    rule: dict[str, Any] = copy.deepcopy(mortgage().to_dict()["rules"][1])
    assert rule["id"] == APPROVE_RULE
    return rule


def raise_limit(limit: float = 0.35) -> list[dict[str, Any]]:
    rule = _approve_rule()
    rule["when"]["all"][0]["value"] = limit
    return [{"op": "update_rule", "rule_id": APPROVE_RULE, "rule": rule}]


def reword(reason: str = "Clean credit, low debt") -> list[dict[str, Any]]:
    rule = _approve_rule()
    rule["then"]["reason"] = reason
    return [{"op": "update_rule", "rule_id": APPROVE_RULE, "rule": rule}]


def with_pii_input(doc: Document) -> Document:
    """``doc`` with an optional ``applicant_name`` input marked as personal data."""
    data = doc.to_dict()
    data["inputs"].append(
        {"name": "applicant_name", "type": "string", "required": False, "pii": True}
    )
    return parse_document(data)


def propose(app: Flask, operations: Any = None, **options: Any) -> ProposalRecord:
    fields: dict[str, Any] = {
        "operations": raise_limit() if operations is None else operations,
        "rationale": "Applicants just over the limit were approved by underwriting.",
        "citations": [],
        "author": "user:ann",
        "actor": "user:ann",
    }
    fields.update(options)
    with db_of(app).session() as s:
        return create_proposal(s, NAME, **fields)


def submit(app: Flask, proposal_id: int, actor: str = "user:sam") -> ProposalRecord:
    with db_of(app).session() as s:
        return submit_proposal(s, proposal_id, actor)


def record(app: Flask, proposal_id: int) -> ProposalRecord:
    with db_of(app).session() as s:
        return get_proposal(s, proposal_id)


def section(html: str, heading_id: str) -> str:
    """The HTML of the ``<section>`` whose heading has id ``heading_id``."""
    start = html.index(f'id="{heading_id}"')
    start = html.rindex("<section", 0, start)
    return html[start : html.index("</section>", start)]


def text_of(html: str) -> str:
    """The visible text, tags removed and whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


class FormReader(HTMLParser):
    """The fields a browser would send for the form whose action is ``action``: inputs,
    checked checkboxes, selected options and textareas (no button)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("type") not in ("checkbox", "submit") and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and "checked" in a:
            self.fields[a["name"]] = a.get("value", "y")
        elif tag == "select":
            self._select = a["name"]
            self.fields.setdefault(a["name"], "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def fields_of(html: str, action: str) -> dict[str, str]:
    reader = FormReader(action)
    reader.feed(html)
    # A browser drops the newline right after <textarea>, as the parser does not.
    fields = {k: v.replace("\r\n", "\n") for k, v in reader.fields.items()}
    return {k: v[1:] if v.startswith("\n") else v for k, v in fields.items()}
