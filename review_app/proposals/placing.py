"""The service's located problems placed on the editor's fields, and the error summary's
links to them.

``operations[0].rule.when.all[1].value`` names the value of the second condition the
service was sent for the rule of operation 0; conditions left empty in the form were not
sent, so the index counts only the rows that were filled in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from wtforms.form import BaseForm  # type: ignore[import-untyped]

from review_app.proposals.editing import op_index
from review_app.proposals.forms import OUTPUT_PREFIX, EditForm
from rules.errors import Problem

__all__ = ["error_links", "place_problems", "problem_text"]

_OPERATION = re.compile(r"operations\[(\d+)\]")
_CONDITION = re.compile(r"\.rule\.when(?:\.all\[(\d+)\])?(?:\.not)?(?:\.(input|op|value))?")
_FIELDS = {".rule.id": "rule_id", ".rule_id": "rule_id", ".position": "position"}


def problem_text(problem: Problem, with_location: bool = False) -> str:
    text = problem.message
    if problem.suggestion:
        text += f" (did you mean {problem.suggestion!r}?)"
    return f"{problem.location}: {text}" if with_location and problem.location else text


def _condition_field(rule: Any, rest: str) -> Any:
    if rule.shape.data == "json":
        return rule.when_json
    match = _CONDITION.match(rest)
    if match is None:
        return None
    filled = [row.form for row in rule.conditions if row.form.input.data]
    at = int(match.group(1) or 0)
    if at >= len(filled):
        return None
    return filled[at][match.group(2) or "input"]


def _rule_field(rule: Any, rest: str) -> Any:
    """The field of one rule's sub-form that ``rest`` (after ``operations[i]``) names."""
    for prefix, name in _FIELDS.items():
        if rest == prefix or rest.startswith((f"{prefix}.", f"{prefix}[")):
            return rule[name]
    if rest.startswith(".rule.description"):
        return rule.description
    if rest.startswith(".rule.then."):
        name = re.split(r"[.\[]", rest[len(".rule.then.") :])[0]
        return rule.outputs.form._fields.get(f"{OUTPUT_PREFIX}{name}")
    if rest.startswith(".rule.when"):
        return _condition_field(rule, rest)
    return None


def _owner(form: EditForm, location: str, json_mode: bool) -> tuple[Any, bool]:
    """(the field or rule sub-form that owns ``location``, or None; whether the message
    should repeat the location)."""
    head = re.split(r"[.\[]", location)[0]
    if head in ("citations", "rationale", "title"):
        return form[head], head == "citations" and location != "citations"
    match = _OPERATION.match(location)
    if head != "operations" or match is None:
        return None, True
    if json_mode:
        return form.operations_json, True
    rules = {op_index(entry.form.op_index.data): entry.form for entry in form.rules}
    rule = rules.get(int(match.group(1)))
    if rule is None:
        return None, True
    field = _rule_field(rule, location[match.end() :])
    return (rule, True) if field is None else (field, False)


def place_problems(form: EditForm, problems: Iterable[Problem], json_mode: bool) -> None:
    """Put each problem on the field it names; a rule's other problems on that rule, the
    rest above the form."""
    for problem in problems:
        owner, located = _owner(form, problem.location, json_mode)
        text = problem_text(problem, located)
        if owner is None:
            form.form_errors.append(text)
        elif isinstance(owner, BaseForm):
            owner.form_errors.append(text)  # a rule's sub-form
        else:
            owner.errors = [*owner.errors, text]


def _links(prefix: str, fields: Iterable[Any]) -> list[tuple[str, str]]:
    return [(f.id, f"{prefix}{f.label.text}: {m}") for f in fields for m in f.errors]


def error_links(form: EditForm) -> list[tuple[str, str]]:
    """(field id, text) for every field error, rules and conditions included, in page order."""
    top = [form.title, form.rationale, form.citations]
    links = _links("", top)
    for entry in form.rules:
        rule = entry.form
        name = f"Rule {rule.rule_id.data or entry.id}"
        links += [(entry.id, f"{name}: {m}") for m in rule.form_errors]
        links += _links(f"{name}, ", [rule.rule_id, rule.position, rule.description])
        for k, row in enumerate(rule.conditions, start=1):
            c = row.form
            links += _links(f"{name}, condition {k}, ", [c.input, c.op, c.value])
        links += _links(f"{name}, ", [rule.when_json, *rule.outputs.form])
    return links + _links("", [form.operations_json])
