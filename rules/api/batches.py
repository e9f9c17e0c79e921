"""A batch's body: checked against its schema, with every item's facts checked too when some
item is refused, so that one answer names every bad item (and nothing is recorded)."""

from __future__ import annotations

from typing import Any

from rules.api.bodies import checked, json_object
from rules.core.facts import validate_facts
from rules.errors import FactsError, InvalidRequestError, Problem
from rules.store.extension import database
from rules.store.extension import decisions as decision_service

__all__ = ["batch_body"]


def batch_body(name: str) -> dict[str, Any]:
    """The batch request's body for ruleset ``name``; a 422 naming every bad item's fields."""
    body = json_object()
    try:
        return checked(body, "BatchRequest")
    except InvalidRequestError as exc:
        if not all(p.location.startswith("items[") for p in exc.problems):
            raise
        refused = list(exc.problems)
    # Only items are refused: name the other items' facts problems as well. The version is
    # found first, so a batch for no such ruleset is a 404 whatever its items hold.
    version = body.get("version")
    with database().session() as session:
        target = decision_service().target(name, int(version) if version else None, session=session)
    named = {p.location for p in refused}
    problems = list(refused)
    for i, item in enumerate(body["items"]):
        facts = item.get("facts") if isinstance(item, dict) else None
        if not isinstance(facts, dict) or f"items[{i}].facts" in named:
            continue
        try:
            validate_facts(target.doc, facts)
        except FactsError as bad:
            problems += [
                Problem(p.code, f"items[{i}].{p.location}", p.message, p.suggestion)
                for p in bad.problems
                if f"items[{i}].{p.location}" not in named
            ]
    raise InvalidRequestError("some batch items are not valid; nothing was recorded", problems)
