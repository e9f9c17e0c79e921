"""Engine benchmark: decisions/s of Rulebook, zen-engine and the plain Python reference.

Run ``make bench`` (or ``.venv/bin/python -m bench.engine --out bench/results/engine.json``).
Method and caveats are in bench/README.md. In short, for generated decision tables of 10, 100
and 1,000 rules in two shapes (equality-heavy and range-heavy), every evaluator decides the same
generated facts; before anything is timed, all evaluators must agree on the first inputs of
every table. Each evaluator is then warmed up and timed over the same inputs, interleaved, three
times; the best time counts. Ratios are taken within the run, since the machines are noisy.

Evaluators:

* ``rulebook``: ``rules.core.engine.compile_document(doc)`` once, then per decision
  ``compiled.decide(facts)``: validation (the compiled fast path) plus evaluation, what
  production does;
* ``rulebook_eval``: ``compiled.evaluate`` alone, on facts validated beforehand;
* ``zen``: zen-engine evaluating the equivalent JDM decision table through the fastest Python
  API found by a survey of its variants made in the same run (see ``ZEN_VARIANTS``);
* ``reference``: ``tests.rules.core.reference.reference_evaluate`` on facts validated beforehand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import importlib.metadata
import json
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zen

from rules.core.document import AllOf, Between, Document, Leaf, parse_document
from rules.core.engine import compile_document
from rules.core.engine.hit_policies import Result, Table
from rules.core.facts import validate_facts

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the reference evaluator lives in the test tree
    sys.path.insert(0, str(ROOT))

from tests.rules.core.reference import reference_evaluate  # noqa: E402

SHAPES = ("equality", "range")
SIZES = (10, 100, 1000)
# Inputs timed per case, by table size: enough for about a second per evaluator and repeat on
# a slow core, while the whole run stays well under five minutes on two cores.
DEFAULT_N = {10: 20_000, 100: 10_000, 1000: 5_000}
REPEATS = 3
CHECK_INPUTS = 200
WARMUP_INPUTS = 500
# An evaluator expected to need longer than this per repeat is timed on a prefix of the inputs.
MAX_SECONDS_PER_REPEAT = 2.0
# One that would finish sooner than this decides the inputs several times over.
MIN_SECONDS_PER_REPEAT = 0.3
MIN_TIMED_INPUTS = 500

CATEGORIES = tuple(f"c{i:02d}" for i in range(20))
RANGE_INPUTS = tuple(f"f{i}" for i in range(8))
OUTCOMES = ("decline", "refer", "approve")

Facts = dict[str, Any]


# --------------------------------------------------------------------------- tables and facts


def _threshold(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high)


def _equality_rule(rng: random.Random) -> dict[str, Any]:
    """``cat eq X`` or ``cat in [..]``, and one range on ``amount`` (about 1-3% match)."""
    if rng.random() < 0.6:
        cat: dict[str, Any] = {"input": "cat", "op": "eq", "value": rng.choice(CATEGORIES)}
    else:
        values = sorted(rng.sample(CATEGORIES, rng.randint(2, 3)))
        cat = {"input": "cat", "op": "in", "value": values}
    kind = rng.random()
    if kind < 0.35:
        amount: dict[str, Any] = {
            "input": "amount",
            "op": rng.choice(("ge", "gt")),
            "value": _threshold(rng, 600, 950),
        }
    elif kind < 0.7:
        amount = {
            "input": "amount",
            "op": rng.choice(("lt", "le")),
            "value": _threshold(rng, 50, 400),
        }
    else:
        low = _threshold(rng, 0, 800)
        amount = {
            "input": "amount",
            "op": "between",
            "value": {
                "low": low,
                "high": min(low + _threshold(rng, 50, 250), 1000),
                "low_inclusive": rng.random() < 0.5,
                "high_inclusive": rng.random() < 0.5,
            },
        }
    return {"all": [cat, amount]}


def _range_rule(rng: random.Random) -> dict[str, Any]:
    """2-3 one-sided ranges on distinct number inputs, such as ``f2 >= 81 and f5 < 12``."""
    leaves = []
    for name in rng.sample(RANGE_INPUTS, rng.choice((2, 2, 3))):
        if rng.random() < 0.5:
            leaves.append(
                {"input": name, "op": rng.choice(("ge", "gt")), "value": rng.randint(70, 97)}
            )
        else:
            leaves.append(
                {"input": name, "op": rng.choice(("lt", "le")), "value": rng.randint(3, 30)}
            )
    return {"all": leaves}


def make_document_data(
    shape: str, n_rules: int, hit_policy: str = "FIRST", seed: int = 1
) -> dict[str, Any]:
    """A generated ruleset document (plain data) of ``n_rules`` rules in the given shape."""
    rng = random.Random(f"{shape}/{n_rules}/{hit_policy}/{seed}")
    if shape == "equality":
        inputs: list[dict[str, Any]] = [
            {"name": "cat", "type": "string", "values": list(CATEGORIES)},
            {"name": "amount", "type": "number", "min": 0, "max": 1000},
        ]
        make_rule = _equality_rule
    elif shape == "range":
        inputs = [{"name": n, "type": "number", "min": 0, "max": 100} for n in RANGE_INPUTS]
        make_rule = _range_rule
    else:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    rules = [
        {
            "id": f"r{i:04d}",
            "when": make_rule(rng),
            "then": {"outcome": rng.choice(("decline", "approve")), "code": f"R{i:04d}"},
        }
        for i in range(n_rules)
    ]
    return {
        "name": f"bench-{shape}-{n_rules}",
        "inputs": inputs,
        "outputs": [
            {"name": "outcome", "type": "string", "values": list(OUTCOMES), "default": "refer"},
            {"name": "code", "type": "string", "default": "none"},
        ],
        "hit_policy": hit_policy,
        "rules": rules,
    }


def make_document(shape: str, n_rules: int, hit_policy: str = "FIRST", seed: int = 1) -> Document:
    return parse_document(make_document_data(shape, n_rules, hit_policy, seed))


def _number(rng: random.Random, high: int) -> float | int:
    """A value in [0, high]; one in five is a whole number, so rule boundaries get hit."""
    if rng.random() < 0.2:
        return rng.randint(0, high)
    return round(rng.uniform(0, high), 1)


def make_facts(shape: str, n: int, seed: int = 7) -> list[Facts]:
    """``n`` fact sets for a shape, every input present (zen errors on null in comparisons)."""
    rng = random.Random(f"facts/{shape}/{seed}")
    if shape == "equality":
        return [{"cat": rng.choice(CATEGORIES), "amount": _number(rng, 1000)} for _ in range(n)]
    if shape == "range":
        return [{name: _number(rng, 100) for name in RANGE_INPUTS} for _ in range(n)]
    raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")


# --------------------------------------------------------------------------- JDM translation

_ZEN_HIT_POLICY = {"FIRST": "first", "COLLECT": "collect", "RULE ORDER": "collect"}
_UNARY = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value)
    raise TypeError(f"no JDM literal for {value!r}")


def _cell(leaf: Leaf) -> str:
    """One condition as a zen unary expression on its column (``$`` is the column value)."""
    value = leaf.value
    if leaf.op == "eq":
        return _literal(value)
    if leaf.op == "in":
        assert isinstance(value, tuple)
        return ", ".join(_literal(v) for v in value)
    if leaf.op in _UNARY:
        return f"{_UNARY[leaf.op]} {_literal(value)}"
    if leaf.op == "between":
        assert isinstance(value, Between)
        opening = "[" if value.low_inclusive else "("
        closing = "]" if value.high_inclusive else ")"
        return f"{opening}{_literal(value.low)}..{_literal(value.high)}{closing}"
    raise NotImplementedError(f"no JDM cell for op {leaf.op!r}")


def _leaves(doc: Document, index: int) -> list[Leaf]:
    when = doc.rules[index].when
    if when is None:
        return []
    if isinstance(when, Leaf):
        return [when]
    if isinstance(when, AllOf) and all(isinstance(c, Leaf) for c in when.items):
        return [c for c in when.items if isinstance(c, Leaf)]
    raise NotImplementedError(f"rule {doc.rules[index].id}: only conjunctions of leaves")


def to_jdm(doc: Document) -> dict[str, Any]:
    """The document as a JDM graph: input node -> one decision table -> output node.

    One input column per document input, one output column per output. A cell holds the
    conjunction (``and``) of the rule's conditions on that column, empty when there are none.
    Under FIRST, when every output has a default, a final catch-all row gives the defaults (the
    JDM idiom for a DMN default output entry); under COLLECT an empty list means "no match".
    """
    policy = _ZEN_HIT_POLICY.get(doc.hit_policy)
    if policy is None or doc.aggregation is not None:
        raise NotImplementedError(f"zen has no equivalent of hit policy {doc.hit_policy}")
    table = Table.of(doc)
    in_cols = [(f"i{k}", spec.name) for k, spec in enumerate(doc.inputs)]
    out_cols = [(f"o{k}", out.name) for k, out in enumerate(doc.outputs)]
    rows = []
    for index, rule in enumerate(doc.rules):
        cells: dict[str, list[str]] = {name: [] for _, name in in_cols}
        for leaf in _leaves(doc, index):
            cells[leaf.input].append(_cell(leaf))
        row: dict[str, str] = {"_id": rule.id}
        for col, name in in_cols:
            row[col] = " and ".join(cells[name])
        for col, name in out_cols:
            row[col] = _literal(table.rows[index][name])
        rows.append(row)
    if policy == "first" and table.defaults is not None:
        row = {"_id": "default", **{col: "" for col, _ in in_cols}}
        for col, name in out_cols:
            row[col] = _literal(table.defaults[name])
        rows.append(row)
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": doc.name,
                "position": {"x": 300, "y": 0},
                "content": {
                    "hitPolicy": policy,
                    "inputs": [{"id": c, "name": n, "field": n} for c, n in in_cols],
                    "outputs": [{"id": c, "name": n, "field": n} for c, n in out_cols],
                    "rules": rows,
                },
            },
            {
                "id": "response",
                "type": "outputNode",
                "name": "Response",
                "position": {"x": 600, "y": 0},
            },
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


# --------------------------------------------------------------------------- zen API variants

ZenCall = Callable[[Facts], Mapping[str, Any]]
KEY = "table.json"


def _zen_static(jdm: dict[str, Any]) -> ZenCall:
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {KEY: jdm}}})
    return functools.partial(engine.evaluate, KEY)


def _zen_callback(jdm: dict[str, Any]) -> ZenCall:
    content = zen.ZenDecisionContent(json.dumps(jdm))
    engine = zen.ZenEngine({"loader": lambda key: content})
    return functools.partial(engine.evaluate, KEY)


def _zen_static_json(jdm: dict[str, Any]) -> ZenCall:
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {KEY: jdm}}})
    evaluate, dumps = engine.evaluate, json.dumps
    return lambda facts: evaluate(KEY, dumps(facts))


def _zen_content_decision(jdm: dict[str, Any]) -> ZenCall:
    decision = zen.ZenEngine().create_decision(zen.ZenDecisionContent(json.dumps(jdm)))
    return decision.evaluate


def _zen_text_decision(jdm: dict[str, Any]) -> ZenCall:
    decision = zen.ZenEngine().create_decision(json.dumps(jdm))
    return decision.evaluate


def _zen_get_decision(jdm: dict[str, Any]) -> ZenCall:
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {KEY: jdm}}})
    return engine.get_decision(KEY).evaluate


ZEN_VARIANTS: dict[str, Callable[[dict[str, Any]], ZenCall]] = {
    "ZenEngine(static loader).evaluate(key, dict)": _zen_static,
    "ZenEngine(loader -> cached ZenDecisionContent).evaluate(key, dict)": _zen_callback,
    "ZenEngine(static loader).evaluate(key, json.dumps(dict))": _zen_static_json,
    "create_decision(ZenDecisionContent).evaluate(dict)": _zen_content_decision,
    "create_decision(json text).evaluate(dict)": _zen_text_decision,
    "ZenEngine(static loader).get_decision(key).evaluate(dict)": _zen_get_decision,
}


# --------------------------------------------------------------------------- evaluators


@dataclass
class Evaluator:
    """One way of deciding: ``loop`` decides each of the inputs it is given (the timed part)."""

    name: str
    loop: Callable[[Sequence[Facts]], None]
    inputs: Sequence[Facts]
    prepare_seconds: float


@dataclass
class Prepared:
    doc: Document
    raw: list[Facts]
    validated: list[Facts]
    rulebook: Callable[[Facts], Result]
    zen: ZenCall
    defaults: dict[str, Any] | None
    evaluators: list[Evaluator] = field(default_factory=list)


def _zen_outputs(doc: Document, response: Mapping[str, Any], defaults: Any) -> Any:
    result = response["result"]
    if doc.multi_hit and result == [] and defaults is not None:
        return [dict(defaults)]
    return result


def prepare(doc: Document, facts: list[Facts], zen_variant: str) -> Prepared:
    """Compile the document for every evaluator and build their timed loops."""
    started = time.perf_counter()
    compiled = compile_document(doc)
    rb_seconds = time.perf_counter() - started
    started = time.perf_counter()
    zen_call = ZEN_VARIANTS[zen_variant](to_jdm(doc))
    zen_call(facts[0])  # the first call loads and compiles the decision
    zen_seconds = time.perf_counter() - started
    validated = [validate_facts(doc, f) for f in facts]
    evaluate = compiled.evaluate
    decide = compiled.decide

    def rulebook_loop(inputs: Sequence[Facts]) -> None:
        for f in inputs:
            decide(f)

    def rulebook_eval_loop(inputs: Sequence[Facts]) -> None:
        for f in inputs:
            evaluate(f)

    def reference_loop(inputs: Sequence[Facts]) -> None:
        for f in inputs:
            reference_evaluate(doc, f)

    table = Table.of(doc)
    prepared = Prepared(
        doc=doc,
        raw=facts,
        validated=validated,
        rulebook=decide,
        zen=zen_call,
        defaults=table.defaults,
    )
    prepared.evaluators = [
        Evaluator("rulebook", rulebook_loop, facts, rb_seconds),
        Evaluator("rulebook_eval", rulebook_eval_loop, validated, rb_seconds),
        Evaluator("zen", _zen_loop(zen_call), facts, zen_seconds),
        Evaluator("reference", reference_loop, validated, 0.0),
    ]
    return prepared


# --------------------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Disagreement:
    index: int
    facts: Facts
    what: str
    rulebook: Any
    other: Any

    def __str__(self) -> str:
        return (
            f"input #{self.index} {json.dumps(self.facts)}: {self.what}\n"
            f"    rulebook: {self.rulebook!r}\n    other:    {self.other!r}"
        )


def check_agreement(prepared: Prepared, n: int = CHECK_INPUTS) -> list[Disagreement]:
    """Compare all evaluators on the first ``n`` inputs.

    Rulebook and the reference must return equal :class:`Result` objects (outputs, deciding
    and matched rule ids, reasons, exception flag); zen must return the same outputs (each rule
    has its own ``code`` output, so equal outputs mean the same deciding rule).
    """
    doc = prepared.doc
    problems: list[Disagreement] = []
    for i, (raw, clean) in enumerate(zip(prepared.raw[:n], prepared.validated[:n], strict=True)):
        mine = prepared.rulebook(raw)
        ref = reference_evaluate(doc, clean)
        if mine != ref:
            problems.append(Disagreement(i, raw, "rulebook != reference", mine, ref))
        theirs = _zen_outputs(doc, prepared.zen(raw), prepared.defaults)
        if mine.outputs != theirs:
            problems.append(Disagreement(i, raw, "rulebook outputs != zen", mine.outputs, theirs))
    return problems


def match_stats(doc: Document, validated: Iterable[Facts]) -> dict[str, float]:
    """How often rules match the inputs (from the reference evaluator)."""
    counts = []
    firsts = []
    index = {rule.id: i for i, rule in enumerate(doc.rules)}
    for facts in validated:
        result = reference_evaluate(doc, facts)
        counts.append(len(result.matched))
        if result.matched:
            firsts.append(index[result.matched[0]])
    total = len(counts) or 1
    return {
        "inputs": len(counts),
        "no_match_fraction": round(sum(1 for c in counts if c == 0) / total, 4),
        "mean_matches": round(sum(counts) / total, 2),
        "mean_first_match_index": round(sum(firsts) / len(firsts), 1) if firsts else -1,
    }


# --------------------------------------------------------------------------- timing


def _time(loop: Callable[[Sequence[Facts]], None], inputs: Sequence[Facts], passes: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(passes):
        loop(inputs)
    return time.perf_counter() - started


def time_evaluators(
    evaluators: Sequence[Evaluator],
    n: int,
    repeats: int = REPEATS,
    max_seconds: float = MAX_SECONDS_PER_REPEAT,
    min_seconds: float = MIN_SECONDS_PER_REPEAT,
) -> dict[str, dict[str, Any]]:
    """Warm up, then time every evaluator ``repeats`` times, interleaved; best time counts.

    Every evaluator decides the same first ``n`` inputs. One whose warm-up predicts more than
    ``max_seconds`` per repeat is timed on a shorter prefix of them (never below 500 inputs);
    one that would finish in under ``min_seconds`` decides the inputs several times over
    (``passes``), so that no measurement is too short to be trusted.
    """
    plan: dict[str, tuple[int, int]] = {}
    for ev in evaluators:
        warm = ev.inputs[: min(WARMUP_INPUTS, n)]
        ev.loop(warm)  # first pass: caches, branch predictors, lazy imports
        rate = len(warm) / max(_time(ev.loop, warm, 1), 1e-9)
        count = max(min(n, int(rate * max_seconds)), min(n, MIN_TIMED_INPUTS))
        passes = max(1, math.ceil(min_seconds * rate / count))
        plan[ev.name] = (count, passes)
    times: dict[str, list[float]] = {ev.name: [] for ev in evaluators}
    for _ in range(repeats):
        for ev in evaluators:
            count, passes = plan[ev.name]
            times[ev.name].append(_time(ev.loop, ev.inputs[:count], passes))
    report = {}
    for ev in evaluators:
        count, passes = plan[ev.name]
        decisions = count * passes
        report[ev.name] = {
            "decisions_per_s": round(decisions / min(times[ev.name])),
            "inputs": count,
            "passes": passes,
            "seconds": [round(t, 4) for t in times[ev.name]],
            "all_decisions_per_s": [round(decisions / t) for t in times[ev.name]],
        }
    return report


def _zen_loop(call: ZenCall) -> Callable[[Sequence[Facts]], None]:
    def loop(inputs: Sequence[Facts]) -> None:
        for f in inputs:
            call(f)

    return loop


def survey_zen(
    shape: str, n_rules: int, n: int, repeats: int = REPEATS, max_seconds: float = 1.0
) -> dict[str, int]:
    """Decisions/s of every zen API variant on one table (interleaved), fastest first."""
    doc = make_document(shape, n_rules)
    facts = make_facts(shape, n)
    jdm = to_jdm(doc)
    expected = None
    evaluators = []
    for name, factory in ZEN_VARIANTS.items():
        call = factory(jdm)
        outputs = [call(f)["result"] for f in facts[:CHECK_INPUTS]]
        if expected is None:
            expected = outputs
        elif outputs != expected:
            raise AssertionError(f"zen variant {name!r} disagrees with the others")
        evaluators.append(Evaluator(name, _zen_loop(call), facts, 0.0))
    timed = time_evaluators(evaluators, n, repeats, max_seconds)
    rates = {name: r["decisions_per_s"] for name, r in timed.items()}
    return dict(sorted(rates.items(), key=lambda kv: -kv[1]))


# --------------------------------------------------------------------------- report


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {
            "python": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "durable-rules": _version("durable-rules"),
            "zen-engine": _version("zen-engine"),
            "rulebook": _version("rulebook"),
        },
    }


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("nan")


def format_table(cases: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f"{'shape':<9}{'rules':>6} {'policy':<8}{'rulebook':>10}{'rb eval':>10}{'zen':>10}"
        f"{'reference':>11}{'rb/zen':>8}{'rbE/zen':>8}{'rbE/ref':>8}"
    )
    lines = [head, "-" * len(head)]
    for case in cases:
        r = case["results"]
        lines.append(
            f"{case['shape']:<9}{case['rules']:>6} {case['hit_policy']:<8}"
            f"{r['rulebook']['decisions_per_s']:>10,}{r['rulebook_eval']['decisions_per_s']:>10,}"
            f"{r['zen']['decisions_per_s']:>10,}{r['reference']['decisions_per_s']:>11,}"
            f"{case['ratios']['rulebook/zen']:>8.2f}{case['ratios']['rulebook_eval/zen']:>8.2f}"
            f"{case['ratios']['rulebook_eval/reference']:>8.2f}"
        )
    lines.append(
        "decisions/s, best of the repeats; rulebook = compiled.decide (validate + evaluate)"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Case:
    shape: str
    rules: int
    hit_policy: str


def default_cases(
    sizes: Sequence[int], shapes: Sequence[str], collect: Sequence[int]
) -> list[Case]:
    cases = [Case(shape, size, "FIRST") for shape in shapes for size in sizes]
    cases += [Case(shape, size, "COLLECT") for shape in shapes for size in collect]
    return cases


def run_case(
    case: Case,
    n: int,
    zen_variant: str,
    repeats: int = REPEATS,
    max_seconds: float = MAX_SECONDS_PER_REPEAT,
    min_seconds: float = MIN_SECONDS_PER_REPEAT,
) -> dict[str, Any]:
    doc = make_document(case.shape, case.rules, case.hit_policy)
    facts = make_facts(case.shape, n)
    prepared = prepare(doc, facts, zen_variant)
    problems = check_agreement(prepared, min(CHECK_INPUTS, n))
    if problems:
        shown = "\n".join(str(p) for p in problems[:5])
        raise SystemExit(
            f"{case}: the evaluators disagree on {len(problems)} of the first "
            f"{min(CHECK_INPUTS, n)} inputs; nothing was timed.\n{shown}"
        )
    results = time_evaluators(prepared.evaluators, n, repeats, max_seconds, min_seconds)
    rate = {name: r["decisions_per_s"] for name, r in results.items()}
    return {
        "shape": case.shape,
        "rules": case.rules,
        "hit_policy": case.hit_policy,
        "inputs": n,
        "agreement_checked_inputs": min(CHECK_INPUTS, n),
        "match_stats": match_stats(doc, prepared.validated[:CHECK_INPUTS]),
        "prepare_seconds": {
            ev.name: round(ev.prepare_seconds, 4)
            for ev in prepared.evaluators
            if ev.name in ("rulebook", "zen")
        },
        "results": results,
        "ratios": {
            "rulebook/zen": _ratio(rate["rulebook"], rate["zen"]),
            "rulebook_eval/zen": _ratio(rate["rulebook_eval"], rate["zen"]),
            "rulebook/reference": _ratio(rate["rulebook"], rate["reference"]),
            "rulebook_eval/reference": _ratio(rate["rulebook_eval"], rate["reference"]),
        },
    }


def profile_rulebook(shape: str, n_rules: int, n: int, top: int = 20) -> None:
    """Print where Rulebook's time goes (cProfile, by own time) for one FIRST table."""
    import cProfile
    import pstats

    doc = make_document(shape, n_rules)
    facts = make_facts(shape, n)
    compiled = compile_document(doc)
    decide = compiled.decide
    for f in facts[:WARMUP_INPUTS]:
        decide(f)
    profiler = cProfile.Profile()
    profiler.enable()
    for f in facts:
        decide(f)
    profiler.disable()
    print(f"Rulebook, {shape}, {n_rules} rules, FIRST, {n} decisions (times include profiling)")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON to this path")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument(
        "--collect",
        type=int,
        nargs="*",
        default=[100, 1000],
        help="sizes also run under COLLECT (all matches, like-for-like with Rulebook)",
    )
    parser.add_argument("--n", type=int, help="inputs per case (default by size)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS_PER_REPEAT)
    parser.add_argument("--min-seconds", type=float, default=MIN_SECONDS_PER_REPEAT)
    parser.add_argument("--zen-variant", choices=list(ZEN_VARIANTS), help="skip the survey")
    parser.add_argument(
        "--profile",
        metavar="SHAPE:RULES",
        help="instead of benchmarking, cProfile Rulebook's path (validate + evaluate) on one table",
    )
    args = parser.parse_args(argv)
    if args.profile:
        shape, _, size = args.profile.partition(":")
        profile_rulebook(shape, int(size or 1000), args.n or 5_000)
        return 0

    started = time.perf_counter()
    report: dict[str, Any] = environment()
    if args.zen_variant:
        variant = args.zen_variant
        report["zen_survey"] = None
    else:
        survey = survey_zen("equality", 100, 5_000, args.repeats, 0.3)
        variant = next(iter(survey))
        report["zen_survey"] = {"table": "equality, 100 rules, FIRST", "decisions_per_s": survey}
        print("zen API variants (equality, 100 rules, FIRST), decisions/s:")
        for name, rate in survey.items():
            print(f"  {rate:>9,}  {name}")
    report["zen_variant"] = variant
    print(f"zen timed through: {variant}\n")
    report["settings"] = {
        "repeats": args.repeats,
        "check_inputs": CHECK_INPUTS,
        "warmup_inputs": WARMUP_INPUTS,
        "max_seconds_per_repeat": args.max_seconds,
        "min_seconds_per_repeat": args.min_seconds,
        "inputs_by_size": {str(k): v for k, v in DEFAULT_N.items()} if not args.n else args.n,
    }
    cases = []
    for case in default_cases(args.sizes, args.shapes, args.collect):
        n = args.n or DEFAULT_N.get(case.rules, 2_000)
        print(f"  {case.shape} {case.rules} {case.hit_policy} ...", flush=True)
        cases.append(run_case(case, n, variant, args.repeats, args.max_seconds, args.min_seconds))
    report["cases"] = cases
    report["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    print()
    print(format_table(cases))
    print(f"elapsed {report['elapsed_seconds']} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
