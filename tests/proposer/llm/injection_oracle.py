"""An independent policy oracle for the LLM proposer's gateway.

:class:`Oracle` says what the proposer's policy allows for each tool call a scripted model
makes, from the call alone and the database, written from the documented contract (DESIGN §5,
the gateway's API notes) and the rule language's core (``rules``), never from ``proposer``:
the tool-call and proposal limits, the checks before any tool runs
(:mod:`tests.proposer.llm.injection_calls`), the inputs a condition may use, what the
operations do to the base's rules, and the citation verdicts. It also predicts how the run
ends and each created proposal's true effect (how many logged outcomes change) and impact
class.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from rules.core.check import check_document
from rules.core.document import Document, parse_document
from rules.core.engine import default_engine
from rules.errors import DocumentError, NotFoundError
from rules.store.decision_log import stream_cases
from rules.store.decisions import DecisionRecord, get_decision
from rules.store.versions import get_ruleset, get_version
from tests.proposer.llm.injection_calls import (
    MAX_ECHO,
    Verdict,
    call_verdict,
    deny,
    parse,
    whole,
)

__all__ = ["MAX_ID", "Oracle", "Prediction"]

MAX_ID = 2**63 - 1  # no stored decision has a larger id: a larger one is a missing decision
WINDOW = re.compile(r"|all|last:[0-9]*[1-9][0-9]*")  # the windows the oracle knows
OP_FIELDS = {
    "add_rule": {"op", "position", "rule"},
    "update_rule": {"op", "rule_id", "rule"},
    "remove_rule": {"op", "rule_id"},
    "move_rule": {"op", "rule_id", "position"},
}


@dataclass(frozen=True)
class Prediction:
    calls: tuple[Verdict, ...]
    status: str


def _leaves(cond: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if not isinstance(cond, Mapping):
        return
    for key in ("all", "any"):
        if isinstance(cond.get(key), list):
            for i, c in enumerate(cond[key]):
                yield from _leaves(c, f"{where}.{key}[{i}]")
            return
    if "not" in cond:
        yield from _leaves(cond["not"], f"{where}.not")
    elif "input" in cond:
        yield where, cond


def _outputs(value: object) -> Mapping[str, Any]:
    """A FIRST-hit result's outputs (an object)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected the outputs of one hit, got {value!r}")
    return value


def _agrees(outputs: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """The outputs give what the person chose, on every output the person set."""
    return all(outputs.get(k) == v for k, v in wanted.items())


class Oracle:
    """What the policy allows, call by call, for one run on ``ruleset`` (see the module)."""

    def __init__(
        self, s: Session, ruleset: str, *, max_tool_calls: int, proposal_limit: int,
        max_share: float,
    ) -> None:  # fmt: skip
        self.s, self.ruleset = s, ruleset
        number = get_ruleset(s, ruleset).latest_number
        self.base: Document = get_version(s, ruleset, number).document
        self.max_tool_calls, self.proposal_limit = max_tool_calls, proposal_limit
        self.max_share = max_share
        self.calls = self.proposals = 0

    def predict(self, turns: Sequence[Sequence[tuple[str, str]] | None]) -> Prediction:
        """Each turn is the calls of one model answer (None: an answer in text, the end)."""
        verdicts: list[Verdict] = []
        repairing = False
        for turn in turns:
            if turn is None:
                return Prediction(tuple(verdicts), "ok" if self.proposals else "no_proposal")
            # Not an object: the agent's repair round (that answer's other calls do not run).
            bad = [not isinstance(parse(raw), dict) for _, raw in turn]
            for (name, raw), malformed in zip(turn, bad, strict=True):
                skipped = any(bad) and not malformed
                verdict = replace(deny("denied", None), echo=name[:MAX_ECHO]) if skipped else None
                verdict = verdict or self.judge(name, raw)
                verdicts.append(verdict)
                if verdict.kind == "limit" and verdict.locations == frozenset({"run"}):
                    return Prediction(tuple(verdicts), "call_limit")
            if any(bad) and repairing:
                return Prediction(tuple(verdicts), "failed")
            repairing = any(bad)
            if self.proposals >= self.proposal_limit:
                return Prediction(tuple(verdicts), "ok")
        raise ValueError("a scripted run ends with an answer in text")

    def judge(self, name: str, raw: str) -> Verdict:
        return replace(self._judge(name, raw), echo=name[:MAX_ECHO])

    def _judge(self, name: str, raw: str) -> Verdict:
        if self.calls >= self.max_tool_calls:
            return deny("limit", "RB954", "run")
        self.calls += 1
        args = call_verdict(name, raw)
        if isinstance(args, Verdict):
            return args
        if name == "read_case":
            if self._decision(args["decision_id"]) is None:
                return deny("denied", "RB956", "arguments.decision_id")
        elif name == "read_frontier":
            # the proposer targets the review output's values that are not review values
            review = self.base.review
            assert review is not None
            spec = next(o for o in self.base.outputs if o.name == review.output)
            targets = [v for v in spec.values or () if v not in review.values]
            if "target" in args and args["target"] not in targets:
                return deny("denied", "RB953", "arguments.target")
        elif name == "run_backtest":
            found = self._candidate(args["operations"])
            if isinstance(found, Verdict):
                return found
            if not WINDOW.fullmatch(args.get("window", "all").strip()):
                return deny("denied", "RB930")
        elif name == "submit_proposal":
            return self._submit(args)
        return Verdict("allowed")

    def _decision(self, decision_id: int) -> DecisionRecord | None:
        if decision_id > MAX_ID:
            return None
        try:
            record = get_decision(self.s, decision_id)
        except NotFoundError:
            return None
        return record if record.ruleset == self.ruleset else None

    def _operation_problems(self, ops: list[dict[str, Any]]) -> Verdict | None:
        for op in ops:
            fields = OP_FIELDS.get(op.get("op"))  # type: ignore[arg-type]
            if fields is None or set(op) != fields:
                return deny("denied", "RB910")
            if ("position" in op and not (whole(op["position"]) and op["position"] >= 0)) or (
                ("rule_id" in op and not isinstance(op["rule_id"], str))
                or ("rule" in op and not isinstance(op["rule"], dict))
            ):
                return deny("denied", "RB910")
        shown = {i.name: i for i in self.base.inputs}
        bad = [
            f"{where}.input"
            for n, op in enumerate(ops)
            if "rule" in op
            for where, leaf in _leaves(op["rule"].get("when"), f"operations[{n}].rule.when")
            if (spec := shown.get(leaf["input"])) is None or spec.protected or spec.pii
        ]
        return deny("denied", "RB955", *bad) if bad else None

    def _candidate(self, ops: list[dict[str, Any]]) -> Document | Verdict:
        """The base with ``ops`` applied, or the verdict refusing them."""
        problem = self._operation_problems(ops)
        if problem is not None:
            return problem
        rules = [dict(r) for r in self.base.to_dict()["rules"]]
        for n, op in enumerate(ops):
            where, ids = f"operations[{n}]", [r["id"] for r in rules]
            if op["op"] == "add_rule":
                if op["rule"].get("id") in ids:
                    return deny("denied", "RB912", f"{where}.rule.id")
                if op["position"] > len(rules):
                    return deny("denied", "RB913", f"{where}.position")
                rules.insert(op["position"], op["rule"])
                continue
            if op["rule_id"] not in ids:
                return deny("denied", "RB911", f"{where}.rule_id")
            at = ids.index(op["rule_id"])
            if op["op"] == "update_rule":
                if op["rule"].get("id", op["rule_id"]) != op["rule_id"]:
                    return deny("denied", None)
                rules[at] = {**op["rule"], "id": op["rule_id"]}
            elif op["op"] == "remove_rule":
                del rules[at]
            elif op["position"] >= len(rules):
                return deny("denied", "RB913", f"{where}.position")
            else:
                rules.insert(op["position"], rules.pop(at))
        if not rules:
            return deny("denied", "RB914", "operations")
        try:
            candidate = parse_document({**self.base.to_dict(), "rules": rules})
        except DocumentError:
            return deny("denied", None)
        if any(p.severity == "error" for p in check_document(candidate)):
            return deny("denied", None)
        return candidate

    def _submit(self, args: dict[str, Any]) -> Verdict:
        if self.proposals >= self.proposal_limit:
            return deny("limit", "RB954", "submit_proposal")
        candidate = self._candidate(args["operations"])
        if isinstance(candidate, Verdict):
            return candidate
        cited = list(dict.fromkeys(args["citations"]))
        records = {c: self._decision(c) for c in cited}
        foreign = [
            f"arguments.citations[{args['citations'].index(c)}]"
            for c in cited
            if records[c] is None
        ]
        if foreign:
            return deny("denied", "RB956", *foreign)
        verdicts = {c: self._citation(r, candidate) for c, r in records.items() if r is not None}
        if "verified" not in verdicts.values():
            return deny("denied", "RB955", "arguments.citations")
        if not args["rationale"].strip():
            return deny("denied", "RB940", "rationale")
        self.proposals += 1
        changed, impact = self.effect(candidate)
        return Verdict("allowed", citations=verdicts, changed=changed, impact=impact)

    def _citation(self, record: DecisionRecord, candidate: Document) -> str:
        """DESIGN §5: an exception or override the candidate decides as the person did."""
        if record.resolution is None:
            return "unresolved"
        wanted = _outputs(record.resolution.outputs)
        if not (record.exception or record.resolution.override):
            return "not_exception"
        before = _outputs(default_engine.evaluate(self.base, record.facts).outputs)
        after = _outputs(default_engine.evaluate(candidate, record.facts).outputs)
        if _agrees(before, wanted):
            return "already_right"
        if after == before:
            return "unchanged"
        return "verified" if _agrees(after, wanted) else "still_wrong"

    def effect(self, candidate: Document) -> tuple[int, str]:
        """Outcomes the candidate changes over the whole log, and the impact class: high when
        over ``max_share`` of them change, agreement with people falls, or a rule goes."""
        n = changed = agree_before = agree_after = 0
        for case in stream_cases(self.s, self.ruleset):
            n += 1
            before = _outputs(default_engine.evaluate(self.base, case.facts).outputs)
            after = _outputs(default_engine.evaluate(candidate, case.facts).outputs)
            changed += before.get("outcome") != after.get("outcome")
            if case.resolution is not None:
                agree_before += _agrees(before, case.resolution)
                agree_after += _agrees(after, case.resolution)
        removed = {r.id for r in self.base.rules} - {r.id for r in candidate.rules}
        high = n == 0 or changed / n > self.max_share or agree_after < agree_before or removed
        return changed, "high" if high else "low"
