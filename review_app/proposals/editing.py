"""The editor's logic: a proposal's operations as form data, and the form back into
operations (the service's problems are placed on the fields by :mod:`.placing`).

The form edits the rules a proposal adds or updates. A rule's condition is shown as rows
(``[not] input operator value``) when it is a single condition or an ``all`` of them, the
shapes analysts write; any other shape (``any``, nesting) is edited as JSON in the rule's
"Condition (JSON)" field. Operations that remove or move rules are kept as they are (the
advanced JSON edits them). A value that cannot be read for its input's type is an error on
its field before anything is sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from wtforms import SelectChoice  # type: ignore[import-untyped]

from proposer import AddRule, MoveRule, Operation, ProposalRecord, RemoveRule, UpdateRule
from review_app.forms import json_field
from review_app.proposals.forms import OUTPUT_PREFIX, EditForm
from review_app.proposals.values import format_output, format_value, parse_output, parse_value
from rules.core.document import AllOf, Condition, Document, Leaf, Not, condition_to_dict

__all__ = [
    "FormMismatch",
    "check_shape",
    "form_data",
    "form_operations",
    "json_operations",
    "op_index",
    "parse_citations",
    "prepare",
]


class FormMismatch(Exception):
    """The posted rules do not match the proposal's operations (it changed meanwhile)."""


def _leaves(when: Condition | None) -> tuple[str, list[tuple[bool, Leaf]]] | None:
    """The condition as (shape, [(negated, leaf)]), or None when rows cannot show it."""
    if when is None:
        return "none", []
    items = when.items if isinstance(when, AllOf) else (when,)
    rows: list[tuple[bool, Leaf]] = []
    for item in items:
        if isinstance(item, Leaf):
            rows.append((False, item))
        elif isinstance(item, Not) and isinstance(item.item, Leaf):
            rows.append((True, item.item))
        else:
            return None
    return ("all" if isinstance(when, AllOf) else "leaf"), rows


def _rule_data(index: int, op: AddRule | UpdateRule) -> dict[str, Any]:
    rule = op.rule
    found = _leaves(rule.when)
    shape, rows = found if found is not None else ("json", [])
    then = rule.then_dict
    return {
        "op_index": str(index),
        "shape": shape,
        "rule_id": rule.id,
        "position": op.position if isinstance(op, AddRule) else None,
        "description": rule.description or "",
        "conditions": [
            {"negate": neg, "input": leaf.input, "op": leaf.op, "value": format_value(leaf.value)}
            for neg, leaf in rows
        ],
        "when_json": ""
        if found is not None or rule.when is None
        else json.dumps(condition_to_dict(rule.when), indent=2, ensure_ascii=False),
        "outputs": {f"{OUTPUT_PREFIX}{k}": format_output(v) for k, v in then.items()},
    }


def form_data(record: ProposalRecord) -> dict[str, Any]:
    """The editor's initial data for ``record``."""
    return {
        "stamp": record.updated_at.isoformat(),
        "title": record.title,
        "rationale": record.rationale,
        "citations": ", ".join(str(c) for c in record.citations),
        "operations_json": json.dumps(
            [op.to_dict() for op in record.operations], indent=2, ensure_ascii=False
        ),
        "rules": [
            _rule_data(i, op)
            for i, op in enumerate(record.operations)
            if isinstance(op, AddRule | UpdateRule)
        ],
    }


def _rule_ids_before(base: Document, operations: tuple[Operation, ...], upto: int) -> list[str]:
    ids = [r.id for r in base.rules]
    for op in operations[:upto]:
        if isinstance(op, AddRule):
            ids.insert(min(op.position, len(ids)), op.rule.id)
        elif isinstance(op, RemoveRule | MoveRule) and op.rule_id in ids:
            ids.remove(op.rule_id)
            if isinstance(op, MoveRule):
                ids.insert(min(op.position, len(ids)), op.rule_id)
    return ids


def _places(ids: list[str]) -> list[SelectChoice]:
    places = [SelectChoice(i, f"Rule {i + 1}, before {rule_id}") for i, rule_id in enumerate(ids)]
    return [*places, SelectChoice(len(ids), f"Rule {len(ids) + 1}, at the end")]


def prepare(form: EditForm, record: ProposalRecord, base: Document) -> None:
    """Set the choices that depend on the base: the inputs a condition may use (not the
    protected ones), and the places an added rule may go."""
    inputs = [SelectChoice("", "(none: drop this condition)")]
    inputs += [SelectChoice(i.name, f"{i.name} ({i.type})") for i in base.inputs if not i.protected]
    for entry in form.rules:
        rule = entry.form
        index = op_index(rule.op_index.data) or 0
        op = record.operations[index] if index < len(record.operations) else None
        rule.adding = isinstance(op, AddRule)  # read by the template
        rule.position.choices = _places(_rule_ids_before(base, record.operations, index))
        for condition in rule.conditions:
            condition.form.input.choices = inputs


def op_index(text: Any) -> int | None:
    return int(text) if isinstance(text, str) and text.isdigit() else None


def check_shape(form: EditForm, record: ProposalRecord) -> None:
    """Raise FormMismatch unless the posted rules are the proposal's add/update rules."""
    wanted = [i for i, op in enumerate(record.operations) if isinstance(op, AddRule | UpdateRule)]
    posted = [op_index(entry.form.op_index.data) for entry in form.rules]
    if posted != wanted:
        raise FormMismatch(f"the form edits operations {posted}, the proposal has {wanted}")


def _when(rule: Any, base: Document) -> tuple[bool, Any]:
    """(ok, the rule's ``when`` as JSON or None); errors go on the fields."""
    if rule.shape.data == "json":
        return json_field(rule.when_json, rule.when_json.data or "null")
    leaves: list[Any] = []
    ok = True
    for row in rule.conditions:
        c = row.form
        if not c.input.data:
            continue
        spec = base.input(c.input.data)
        if spec is None:
            c.input.errors = [f"choose one of the inputs; {c.input.data!r} is not one of them"]
            ok = False
            continue
        try:
            value = parse_value(c.value.data, c.op.data, spec)
        except ValueError as exc:
            c.value.errors = [str(exc)]
            ok = False
            continue
        leaf: dict[str, Any] = {"input": spec.name, "op": c.op.data}
        if value is not None:
            leaf["value"] = value
        leaves.append({"not": leaf} if c.negate.data else leaf)
    if not leaves:
        return ok, None
    if len(leaves) == 1 and rule.shape.data != "all":
        return ok, leaves[0]
    return ok, {"all": leaves}


def _then(rule: Any, base: Document) -> tuple[bool, dict[str, Any]]:
    then: dict[str, Any] = {}
    ok = True
    for spec in base.outputs:
        field = rule.outputs.form[f"{OUTPUT_PREFIX}{spec.name}"]
        try:
            value = parse_output(field.data, spec)
        except ValueError as exc:
            field.errors = [str(exc)]
            ok = False
            continue
        if value is not None:
            then[spec.name] = value
    return ok, then


def form_operations(form: EditForm, record: ProposalRecord, base: Document) -> list[Any] | None:
    """The operations the form describes, or None when a field could not be read (its error
    is on it). Operations the form does not show are kept as they are."""
    by_index = {op_index(entry.form.op_index.data): entry.form for entry in form.rules}
    out: list[Any] = []
    ok = True
    for i, op in enumerate(record.operations):
        rule = by_index.get(i)
        if rule is None:
            out.append(op.to_dict())
            continue
        when_ok, when = _when(rule, base)
        then_ok, then = _then(rule, base)
        ok = ok and when_ok and then_ok
        data: dict[str, Any] = {"id": (rule.rule_id.data or "").strip(), "then": then}
        if (rule.description.data or "").strip():
            data["description"] = rule.description.data.strip()
        if when is not None:
            data["when"] = when
        if isinstance(op, AddRule):
            out.append({"op": "add_rule", "position": rule.position.data, "rule": data})
        else:
            out.append({"op": "update_rule", "rule_id": op.rule_id, "rule": data})
    return out if ok else None


def json_operations(form: EditForm) -> tuple[bool, Any]:
    """(ok, the advanced field's operations); an error on the field when it is not JSON."""
    return json_field(form.operations_json, form.operations_json.data or "")


def parse_citations(form: EditForm) -> list[int] | None:
    """The cited decision ids (comma- or space-separated), or None with an error on the field."""
    found = []
    for token in re.split(r"[\s,]+", (form.citations.data or "").strip()):
        if not token:
            continue
        if not token.isdigit() or int(token) < 1:
            form.citations.errors = [
                f"{token!r} is not a decision id: give whole numbers separated by commas, "
                "e.g. 12, 40"
            ]
            return None
        found.append(int(token))
    return found
