"""What the model may see of a case and of the ruleset (pure: no database, no model)."""

from __future__ import annotations

from proposer.llm.views import WITHHELD, case_view, document_view
from rules.core.document import parse_document
from tests.proposer.llm.conftest import DOCUMENT

DOC = parse_document(
    {
        **DOCUMENT,
        "rules": [
            *DOCUMENT["rules"],
            {
                "id": "refer-vip",
                "when": {"input": "applicant_name", "op": "eq", "value": "Ada Byron"},
                "then": {"outcome": "refer"},
            },
        ],
    }
)


def test_facts_are_shown_by_allow_list_and_strings_scrubbed() -> None:
    case = {
        "decision_id": 7,
        "facts": {
            "pirat": 0.3,
            "afam": True,
            "applicant_name": "Ada Byron",
            "retired_input": "Lovelace estate",
            "comment": "Ada Byron asked twice",
        },
        "resolution": {"note": "Called Ada Byron; Lovelace estate pays", "outputs": {}},
    }
    view = case_view(DOC, case)
    assert view["facts"] == {"pirat": 0.3, "comment": f"{WITHHELD} asked twice"}
    assert view["resolution"]["note"] == f"Called {WITHHELD}; {WITHHELD} pays"
    assert view["withheld_facts"] == ["afam", "retired_input"]  # never the PII input's name


def test_values_withheld_from_other_cases_in_the_result_are_scrubbed_too() -> None:
    case = {"facts": {"pirat": 0.3, "comment": "co-signer: Barnaby Oyelaran"}}
    assert case_view(DOC, case)["facts"]["comment"] == "co-signer: Barnaby Oyelaran"
    scrubbed = case_view(DOC, case, also=["Barnaby Oyelaran"])
    assert scrubbed["facts"]["comment"] == f"co-signer: {WITHHELD}"


def test_short_or_boolean_withheld_values_are_not_hunted_in_text() -> None:
    case = {"facts": {"afam": True, "applicant_name": "Al", "comment": "Al is True to form"}}
    assert case_view(DOC, case)["facts"]["comment"] == "Al is True to form"


def test_the_document_shown_has_no_pii_input_and_no_pii_value() -> None:
    view = document_view(DOC, 1, 0, 10)
    assert "applicant_name" not in [i["name"] for i in view["document"]["inputs"]]
    assert "Ada Byron" not in str(view)
    assert view["document"]["rules"][2]["when"]["value"] == WITHHELD
    assert view["protected_inputs"] == ["afam"]
