"""A scenario's shape: ``{id, facts, expect, note}``, facts valid for the ruleset's inputs and
``expect`` a subset of its outputs with values each output can take."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.core.document import Document, Output
from rules.core.facts import validate_facts
from rules.errors import FactsError, InvalidRequestError, Problem, suggest

__all__ = ["MAX_NOTE", "SCENARIO_ID", "ScenarioData", "check_scenario"]

SCENARIO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class ScenarioData:
    """One scenario as written: ``expect`` names some (or all) outputs."""

    id: str
    facts: Mapping[str, Any]
    expect: Mapping[str, Any]
    note: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "facts": dict(self.facts),
            "expect": dict(self.expect),
            "note": self.note,
        }


def _output_value(out: Output, value: Any, loc: str) -> Problem | None:
    if value is None:
        return None
    kinds: dict[str, tuple[type, ...]] = {
        "number": (int, float),
        "integer": (int,),
        "string": (str,),
        "boolean": (bool,),
    }
    wanted = kinds.get(out.type, (object,))
    if (isinstance(value, bool) and out.type != "boolean") or not isinstance(value, wanted):
        return Problem("RB452", loc, f"{value!r} is not a {out.type}, the type of {out.name!r}")
    if out.type == "integer" and isinstance(value, float) and not value.is_integer():
        return Problem("RB452", loc, f"{value!r} is not an integer")
    if out.values is not None and value not in out.values:
        shown = ", ".join(map(str, out.values))
        return Problem(
            "RB453",
            loc,
            f"{value!r} is not one of {out.name!r}'s values ({shown})",
            suggest(str(value), [str(v) for v in out.values]),
        )
    return None


def check_scenario(doc: Document, data: ScenarioData, where: str = "") -> list[Problem]:
    """Every problem of ``data`` for ``doc``, located under ``where`` (e.g. ``scenarios[2].``)."""
    problems: list[Problem] = []
    if not isinstance(data.id, str) or not SCENARIO_ID.match(data.id):
        problems.append(
            Problem(
                "RB450",
                f"{where}id",
                f"{data.id!r} is not a scenario id: use letters, digits, '.', '_' or '-' "
                "(up to 100, starting with a letter or digit)",
            )
        )
    try:
        validate_facts(doc, data.facts)
    except FactsError as exc:
        problems += [
            Problem(p.code, where + p.location, p.message, p.suggestion) for p in exc.problems
        ]
    if not isinstance(data.expect, Mapping) or not data.expect:
        names = ", ".join(o.name for o in doc.outputs)
        problems.append(Problem("RB451", f"{where}expect", f"expect at least one output ({names})"))
    else:
        names_list = [o.name for o in doc.outputs]
        for key, value in data.expect.items():
            out = doc.output(str(key))
            loc = f"{where}expect.{key}"
            if out is None:
                problems.append(
                    Problem(
                        "RB451",
                        loc,
                        f"unknown output {key!r}; this ruleset's outputs are "
                        f"{', '.join(names_list)}",
                        suggest(str(key), names_list),
                    )
                )
                continue
            found = _output_value(out, value, loc)
            if found is not None:
                problems.append(found)
    if data.note is not None and (not isinstance(data.note, str) or len(data.note) > MAX_NOTE):
        problems.append(
            Problem("RB454", f"{where}note", f"give text of up to {MAX_NOTE} characters")
        )
    return problems


def require_valid(doc: Document, items: list[ScenarioData]) -> None:
    """Raise InvalidRequestError naming every problem of ``items``."""
    problems: list[Problem] = []
    for i, item in enumerate(items):
        where = f"scenarios[{i}]." if len(items) > 1 else ""
        problems += check_scenario(doc, item, where)
    if problems:
        raise InvalidRequestError("the scenario is not valid for this ruleset", problems)
