"""Document parse errors name the place and, for a near miss, what was meant."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rules.core.document import parse_document
from rules.errors import DocumentError
from tests.rules.store.storecases import mortgage


def _with_condition(cond: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(mortgage().to_dict())
    data["rules"][1]["when"]["all"][0] = cond
    return data


def _problems(data: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    with pytest.raises(DocumentError) as err:
        parse_document(data)
    return [(p.location, p.message, p.suggestion) for p in err.value.problems]


def test_a_missing_operator_is_named_without_a_guess() -> None:
    [(where, message, hint)] = _problems(_with_condition({"input": "pirat", "value": 0.3}))
    assert where == "rules[1].when.all[0].op"
    assert message.startswith("a condition needs 'op'")
    assert hint is None


def test_a_misspelt_operator_gets_a_suggestion() -> None:
    cond = {"input": "pirat", "op": "betwen", "value": {"low": 0, "high": 1}}
    [(where, _, hint)] = _problems(_with_condition(cond))
    assert (where, hint) == ("rules[1].when.all[0].op", "between")
