"""What the model may see of the ruleset and its cases: PII removed, protected values
withheld, case data wrapped as data.

Decisions about visibility (one place, applied to every tool result):

* **PII inputs** (``pii: true``) are removed everywhere: their declarations from the ruleset
  document, their values from every case's facts, and any condition value on them in the
  document's rules is replaced by ``"[withheld]"``.
* **Protected inputs** (``protected: true``) are *declared* in the document the model reads,
  marked ``protected``, so it knows they exist and may never be used in a condition (the
  gateway refuses any operation that conditions on one). Their *values* are withheld from case
  facts: what the model cannot see it cannot learn a proxy for.
* Facts are shown by allow-list: only inputs the base version declares, neither PII nor
  protected. A fact under any other name (an input an older version had) is withheld. The
  names of withheld facts are listed (``withheld_facts``), PII ones excepted.
* Every string the model is shown from a case (resolution outputs, the person's note, other
  facts, error text) is scrubbed, in any letter case, of the case's withheld values, of those
  of every other case in the same result, and of every text value of a PII input anywhere in
  the ruleset's log (:meth:`ToolContext.known_pii`): a note that names any applicant on record
  shows ``[withheld]``. (A name that is in no PII fact on record cannot be recognised.)
* Case data is wrapped as ``{"untrusted_case_data": ...}``: recorded from applications and
  people, it is data to analyse, never instructions (the system prompt says so too).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rules.core.document import Document

__all__ = [
    "UNTRUSTED",
    "WITHHELD",
    "CaseView",
    "case_view",
    "document_view",
    "dumps",
    "secret_texts",
    "untrusted",
]

UNTRUSTED = "untrusted_case_data"
WITHHELD = "[withheld]"
MIN_SECRET = 3  # shorter withheld values are not scrubbed from text (too many false hits)


def dumps(value: Any) -> str:
    """Compact JSON text (the form every tool result takes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def untrusted(data: Any) -> dict[str, Any]:
    return {UNTRUSTED: data}


def _shown_inputs(doc: Document) -> set[str]:
    return {i.name for i in doc.inputs if not (i.pii or i.protected)}


def secret_texts(doc: Document, facts: Mapping[str, Any]) -> list[str]:
    """The withheld fact values long enough to look for in text, longest first."""
    shown = _shown_inputs(doc)
    found = {
        str(value)
        for name, value in facts.items()
        if name not in shown and not isinstance(value, bool) and value is not None
    }
    return sorted((t for t in found if len(t) >= MIN_SECRET), key=len, reverse=True)


@functools.lru_cache(maxsize=256)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One case-insensitive alternation of ``secrets``, longest first (a name written in
    capitals is the same name)."""
    ordered = sorted(set(secrets), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(_loose(s) for s in ordered), re.IGNORECASE)


def _loose(secret: str) -> str:
    """``secret`` as a regular expression that also matches its capitals where case folding
    changes the length: ß, ẞ and ss are one letter pair (WEISS is Weiß)."""
    folded = secret.casefold()  # ß and ẞ become ss
    return "(?:ss|ß|ẞ)".join(re.escape(part) for part in folded.split("ss"))


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every string scrubbed of ``secrets``: the pattern is built (or found)
    once per call, not once per string (a run may know many PII texts)."""
    return _redact(value, _pattern(tuple(secrets)))


def _redact(value: Any, pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return value if pattern is None else pattern.sub(WITHHELD, value)
    if isinstance(value, Mapping):
        return {str(k): _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, pattern) for v in value]
    return value


class CaseView:
    """Builds the model's view of cases decided under (or compared with) ``doc``."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.shown = _shown_inputs(doc)
        self.pii = {i.name for i in doc.inputs if i.pii}

    def secrets(self, facts: Mapping[str, Any], also: Sequence[str] = ()) -> list[str]:
        return sorted({*secret_texts(self.doc, facts), *also}, key=len, reverse=True)

    def facts(self, facts: Mapping[str, Any], also: Sequence[str] = ()) -> dict[str, Any]:
        secrets = self.secrets(facts, also)
        return {k: _scrub(v, secrets) for k, v in facts.items() if k in self.shown}

    def scrub(self, value: Any, facts: Mapping[str, Any], also: Sequence[str] = ()) -> Any:
        """``value`` with the withheld values of ``facts`` (and ``also``) replaced in every
        string."""
        return _scrub(value, self.secrets(facts, also))

    def withheld(self, facts: Mapping[str, Any]) -> list[str]:
        """Names of the non-PII facts withheld from a case (protected ones, and inputs the
        base does not declare): listed so the model knows they exist. PII names are not."""
        return sorted(k for k in facts if k not in self.shown and k not in self.pii)


def case_view(doc: Document, case: Mapping[str, Any], also: Sequence[str] = ()) -> dict[str, Any]:
    """A case (``facts`` plus any other fields) as the model may see it: facts by
    allow-list, every string scrubbed of the case's withheld values and of ``also`` (the
    withheld values of the other cases shown with it)."""
    facts = case.get("facts") or {}
    view = CaseView(doc)
    pattern = _pattern(tuple(view.secrets(facts, also)))
    out = {k: _redact(v, pattern) for k, v in case.items() if k != "facts"}
    out["facts"] = {k: _redact(v, pattern) for k, v in facts.items() if k in view.shown}
    withheld = view.withheld(facts)
    if withheld:
        out["withheld_facts"] = withheld
    return out


def _rule_view(rule: Mapping[str, Any], pii: set[str]) -> dict[str, Any]:
    def walk(cond: Any) -> Any:
        if isinstance(cond, Mapping):
            if cond.get("input") in pii and "value" in cond:
                return {**cond, "value": WITHHELD}
            return {k: walk(v) for k, v in cond.items()}
        if isinstance(cond, list):
            return [walk(c) for c in cond]
        return cond

    return {k: (walk(v) if k == "when" else v) for k, v in rule.items()}


def document_view(doc: Document, number: int, first: int, count: int) -> dict[str, Any]:
    """The base version's document without PII inputs, with rules ``first`` to
    ``first + count - 1`` (and how many there are)."""
    data = doc.to_dict()
    pii = {i.name for i in doc.inputs if i.pii}
    data["inputs"] = [i for i in data.get("inputs", []) if i.get("name") not in pii]
    rules = data.pop("rules", [])
    shown = [_rule_view(r, pii) for r in rules[first : first + count]]
    return {
        "ruleset": doc.name,
        "version": number,
        "hash": doc.hash,
        "document": {**data, "rules": shown},
        "rules": {"total": len(rules), "first": first, "shown": len(shown)},
        "protected_inputs": [i.name for i in doc.inputs if i.protected],
    }
