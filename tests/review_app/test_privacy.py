"""One mask text for hidden personal data: a decision's facts and a dossier's changed
decisions show the same words in the same markup to a role that may not read them, and no
other mask text is left in the review app's code or templates."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask

import review_app
from review_app.decisions import facts
from review_app.privacy import MASK
from review_app.proposals import backtest
from rules.store import decisions
from tests.review_app.conftest import Browser, db_of
from tests.review_app.test_proposals_support import (
    NAME,
    logged,
    propose,
    section,
    with_pii_input,
)
from tests.rules.api.conftest import mortgage

SHOWN = f'<span class="masked">{MASK}</span>'
ROOT = Path(review_app.__file__).parent


def test_every_page_imports_the_one_mask() -> None:
    assert backtest.MASK is MASK
    assert facts.MASK is MASK


def test_no_other_mask_text_is_left_in_the_code_or_templates() -> None:
    sources = [*ROOT.rglob("*.py"), *ROOT.rglob("*.html")]
    defined = [p for p in sources if re.search(r"^MASK\s*=", p.read_text(), re.M)]
    assert [p.relative_to(ROOT).as_posix() for p in defined] == ["privacy.py"]
    for path in sources:
        text = path.read_text()
        assert "•••" not in text, path  # the dossier's old mask
        assert "hidden for your role" not in text, path
        if path.name != "privacy.py":
            assert MASK not in text, path  # the words live in one place


def test_the_dossier_and_the_decision_page_mask_alike(
    app: Flask, login: Callable[..., Browser]
) -> None:
    ids = logged(app, with_pii_input(mortgage()), {"applicant_name": "Jane Roe"})
    made = propose(app)
    analyst = login("analyst")
    changed = section(analyst.get(f"/proposals/{made.id}").get_data(as_text=True), "changed")
    decision = analyst.get(f"/decisions/{ids[0]}").get_data(as_text=True)
    for html in (changed, decision):
        assert SHOWN in html
        assert "Jane Roe" not in html
    with db_of(app).session() as s:
        record = decisions.get_decision(s, ids[0])
    assert record.facts["applicant_name"] == "Jane Roe"  # stored whole, only hidden
    approver = login("approver").get(f"/decisions/{ids[0]}").get_data(as_text=True)
    assert "Jane Roe" in approver
    assert SHOWN not in approver
    assert NAME in approver
