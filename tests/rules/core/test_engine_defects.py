"""Each durable_rules defect in the field notes, shown real on the raw C engine where that is
safe, and shown neutralised through Rulebook's engine."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import threading
from typing import Any

import durable_rules_engine as dr
import pytest

from rules.core.document import parse_document
from rules.core.engine import Engine, compile_document, evaluate
from rules.core.engine.compile import fnv1a32, number
from rules.core.facts import validate_facts
from rules.errors import DocumentError, FactsError
from tests.rules.core.enginecases import random_facts, range_heavy
from tests.rules.core.reference import reference_evaluate


def _doc(inputs: list[dict[str, Any]], rules: list[dict[str, Any]], **extra: Any) -> Any:
    data = {
        "name": "t",
        "inputs": inputs,
        "outputs": [{"name": "out", "type": "string", "default": "none"}],
        "hit_policy": "RULE ORDER",
        "rules": rules,
        **extra,
    }
    return parse_document(data)


def _run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# 1. engine.Host starts timer threads that crash the process: we never create one.
def test_no_durable_host_and_no_background_threads() -> None:
    proc = _run_python(
        """
        import sys, threading
        from rules.core.document import parse_document
        from rules.core.engine import evaluate
        doc = parse_document({"name": "t", "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "o", "type": "string", "default": "d"}],
            "rules": [{"id": "a", "when": {"input": "x", "op": "gt", "value": 1}, "then": {"o": "y"}}]})
        for i in range(2000):
            evaluate(doc, {"x": i % 5})
        print(sorted(m for m in sys.modules if m.startswith("durable")), threading.active_count())
        """
    )
    assert proc.returncode == 0, proc.stderr
    modules, threads = proc.stdout.rsplit(" ", 1)
    assert "durable.engine" not in modules
    assert "durable.lang" not in modules
    assert int(threads) == 1


# 2. delete_state on a session whose last message matched nothing segfaults: we never call it,
#    and thousands of non-matching decisions across many versions run in one process.
def test_non_matching_decisions_do_not_crash() -> None:
    proc = _run_python(
        """
        from rules.core.document import parse_document
        from rules.core.engine import Engine
        engine = Engine(capacity=4)
        for v in range(40):
            doc = parse_document({"name": "t", "inputs": [{"name": "x", "type": "number"}],
                "outputs": [{"name": "o", "type": "string"}],
                "rules": [{"id": "a", "when": {"input": "x", "op": "gt", "value": v}, "then": {"o": "y"}}]})
            for i in range(200):
                r = engine.evaluate(doc, {"x": -1 - i})
                assert r.outputs is None and r.exception
        print("ok")
        """
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.strip() == "ok"


# 3. The session state document is a fact: an absence-only rule would re-fire forever.
def test_absence_only_rule_terminates_and_matches_once() -> None:
    doc = _doc(
        [{"name": "x", "type": "number", "required": False}],
        [
            {"id": "missing", "when": {"input": "x", "op": "is_null"}, "then": {"out": "null"}},
            {"id": "always", "then": {"out": "always"}},
        ],
    )
    for _ in range(100):
        result = evaluate(doc, {})
        assert result.matched == ("missing", "always")
        assert result.outputs == [{"out": "null"}, {"out": "always"}]
    assert evaluate(doc, {"x": 3}).matched == ("always",)
    # Every engine rule carries a positive test on a field only request facts have.
    program = compile_document(doc).program
    for shard in program.shards:
        rules = json.loads(shard.ruleset_json)
        # ... apart from the close rule, whose field neither requests nor the state document carry.
        assert rules.pop("close") == {"all": [{"m": {"cz": 1}}]}
        for rule in rules.values():
            assert rule["all"][0]["m"]["$and"][0] == {"mk": 1}


# 4. Error 303: wide rulesets overflow the engine's 64-entry alpha-walk stack.
def _naive_ruleset(n: int) -> int:
    doc = range_heavy(n)
    rules = {}
    for k, rule in enumerate(doc.rules):
        tests = []
        for leaf in rule.when.items[:2]:  # type: ignore[union-attr]
            op = {"ge": "$gte", "lt": "$lt"}[leaf.op]
            tests.append({op: {leaf.input: leaf.value}})
        rules[f"r{k}"] = {"all": [{"m": {"$and": tests}}]}
    return int(dr.create_ruleset(f"naive{n}", json.dumps(rules)))


def test_a_naive_wide_ruleset_really_fails_with_303() -> None:
    # (Beyond ~510 rules the naive layout hangs create_ruleset instead: a node's child table has
    # 512 slots and the lookup loops forever when it is full. Rulebook caps children per node.)
    handle = _naive_ruleset(400)
    failures = 0
    for i, facts in enumerate(random_facts(range_heavy(400), 200)):
        fact = json.dumps({**facts, "id": f"f{i}", "sid": "0"})
        try:
            dr.assert_fact(handle, fact)
            dr.retract_fact(handle, fact)
        except dr.error as exc:
            assert "303" in str(exc)
            failures += 1
    dr.delete_ruleset(handle)
    assert failures > 0


@pytest.mark.slow
@pytest.mark.parametrize("with_category", [False, True], ids=["ranges", "ranges+category"])
def test_4000_rule_range_heavy_rulesets_evaluate_10000_inputs(with_category: bool) -> None:
    doc = range_heavy(4000, seed=7, with_category=with_category)
    compiled = compile_document(doc)
    assert compiled.program.stack_bound <= 64
    assert compiled.program.max_children <= 500
    facts = [validate_facts(doc, f) for f in random_facts(doc, 10_000, seed=8)]
    matched_total = 0
    for i, fact in enumerate(facts):
        result = compiled.evaluate(fact)
        matched_total += len(result.matched)
        if i % 50 == 0:
            assert result == reference_evaluate(doc, fact)
    assert matched_total > 0


# 5. Integer $div by zero kills the process: no arithmetic is ever compiled.
def test_compiled_rulesets_use_only_comparison_operators() -> None:
    allowed = {"$and", "$or", "$neq", "$lt", "$lte", "$gt", "$gte", "$ex", "$nex", "all", "m"}
    doc = range_heavy(200, with_category=True)

    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = {k for k in node if k.startswith("$") or k in ("all", "m")}
            for value in node.values():
                found |= keys(value)
            return found
        if isinstance(node, list):
            return set().union(*(keys(v) for v in node)) if node else set()
        return set()

    program = compile_document(doc).program
    assert len(program.shards) > 1
    for shard in program.shards:
        for rule in json.loads(shard.ruleset_json).values():
            assert keys(rule) <= allowed


# 6. Exponent numbers without a fraction are a parse error; NaN/Infinity; int64 saturation.
@pytest.mark.parametrize("value", [1e-07, 1e16, 5e-324, 1.7976931348623157e308, -2.5e-10, -0.0])
def test_numbers_in_exponent_form_reach_the_engine_intact(value: float) -> None:
    assert "e" not in repr(value) or "." in number(value).split("e")[0]
    doc = _doc(
        [{"name": "x", "type": "number"}],
        [
            {"id": "eq", "when": {"input": "x", "op": "eq", "value": value}, "then": {"out": "eq"}},
            {"id": "lt", "when": {"input": "x", "op": "lt", "value": value}, "then": {"out": "lt"}},
        ],
    )
    assert evaluate(doc, {"x": value}).matched == ("eq",)
    below = math.nextafter(value, -math.inf)
    assert evaluate(doc, {"x": below}).matched == ("lt",)


def test_raw_engine_rejects_exponent_numbers_that_rulebook_rewrites() -> None:
    with pytest.raises(dr.error, match="204"):
        dr.create_ruleset("exp", '{"r":{"all":[{"m":{"$lt":{"x":1e-07}}}]}}')


@pytest.mark.parametrize(
    ("value", "field"),
    [(float("nan"), "x"), (float("inf"), "x"), (2**63, "x"), (2**53 + 1, "n")],
)
def test_non_finite_and_huge_numbers_are_rejected_before_the_engine(
    value: float, field: str
) -> None:
    doc = _doc(
        [{"name": "x", "type": "number"}, {"name": "n", "type": "integer", "required": False}],
        [{"id": "a", "when": {"input": "x", "op": "gt", "value": 0}, "then": {"out": "y"}}],
    )
    facts = {"x": 1.0, field: value}
    with pytest.raises(FactsError) as err:
        evaluate(doc, facts)
    assert err.value.problems[0].location == f"facts.{field}"


# 7. Field names are identified by a 32-bit hash only: colliding names are confused.
COLLIDING = ("xxdjlvzu", "xotomnpn")


def test_colliding_names_really_collide_in_the_raw_engine() -> None:
    assert fnv1a32(COLLIDING[0]) == fnv1a32(COLLIDING[1])
    handle = dr.create_ruleset("collide", json.dumps({"r": {"all": [{"m": {COLLIDING[0]: 1}}]}}))
    code, _ = dr.assert_fact(handle, json.dumps({COLLIDING[1]: 1, "id": "f", "sid": "0"}))
    dr.delete_ruleset(handle)
    assert code == 0  # the rule on one name matched a fact holding only the other


def test_colliding_input_names_are_kept_apart() -> None:
    a, b = COLLIDING
    doc = _doc(
        [
            {"name": a, "type": "integer", "required": False},
            {"name": b, "type": "integer", "required": False},
        ],
        [{"id": "on-a", "when": {"input": a, "op": "eq", "value": 1}, "then": {"out": "a"}}],
    )
    assert evaluate(doc, {b: 1}).matched == ()
    assert evaluate(doc, {a: 1}).matched == ("on-a",)


def test_engine_field_names_never_collide_with_reserved_names() -> None:
    doc = range_heavy(50, with_category=True)
    program = compile_document(doc).program
    hashes = [fnv1a32(c.field) for c in program.codecs]
    reserved = [fnv1a32(n) for n in ("sid", "id", "$s", "$forward", "mk")]
    assert len(set(hashes)) == len(hashes)
    assert not set(hashes) & set(reserved)


def test_callers_cannot_smuggle_engine_keys() -> None:
    doc = _doc([{"name": "x", "type": "number"}], [{"id": "a", "then": {"out": "y"}}])
    for key in ("sid", "id", "$s", "mk", "v0"):
        with pytest.raises(FactsError, match="unknown input"):
            evaluate(doc, {"x": 1, key: 1})


def test_string_values_are_not_coerced() -> None:
    doc = _doc(
        [{"name": "s", "type": "string"}],
        [
            {"id": "four", "when": {"input": "s", "op": "eq", "value": "4"}, "then": {"out": "4"}},
            {
                "id": "true",
                "when": {"input": "s", "op": "eq", "value": "true"},
                "then": {"out": "t"},
            },
            {"id": "lt-b", "when": {"input": "s", "op": "lt", "value": "b"}, "then": {"out": "<b"}},
        ],
    )
    assert evaluate(doc, {"s": "4"}).matched == ("four", "lt-b")
    assert evaluate(doc, {"s": "4.0"}).matched == ("lt-b",)
    assert evaluate(doc, {"s": "04"}).matched == ("lt-b",)
    assert evaluate(doc, {"s": "true"}).matched == ("true",)
    assert evaluate(doc, {"s": "é"}).matched == ()  # 'é' sorts after 'b' by code point
    assert evaluate(doc, {"s": 'a"\\'}).matched == ("lt-b",)


# 8. Limits: 1,024 sessions per ruleset, 4,096 rules, 255 properties per fact, no unloading.
def test_many_decisions_use_one_session() -> None:
    doc = _doc(
        [{"name": "x", "type": "integer"}],
        [{"id": "a", "when": {"input": "x", "op": "ge", "value": 0}, "then": {"out": "y"}}],
    )
    compiled = compile_document(doc)
    for i in range(5000):
        assert compiled.evaluate({"x": i}).matched == ("a",)


def test_rule_and_input_counts_are_limited_in_the_document() -> None:
    rules = [{"id": f"r{i}", "then": {"out": "y"}} for i in range(4001)]
    with pytest.raises(DocumentError, match="at most 4000 rules"):
        _doc([{"name": "x", "type": "number"}], rules)
    many = [{"name": f"i{k}", "type": "number"} for k in range(201)]
    with pytest.raises(DocumentError, match="at most 200 inputs"):
        _doc(many, [])


def test_two_hundred_inputs_evaluate() -> None:
    inputs = [{"name": f"i{k}", "type": "integer"} for k in range(200)]
    rules = [
        {"id": f"r{k}", "when": {"input": f"i{k}", "op": "eq", "value": k}, "then": {"out": str(k)}}
        for k in range(200)
    ]
    doc = _doc(inputs, rules)
    result = evaluate(doc, {f"i{k}": k if k % 2 else -1 for k in range(200)})
    assert result.matched == tuple(f"r{k}" for k in range(1, 200, 2))


MEMORY_PROBE = """
import resource
from rules.core.engine import Engine
from tests.rules.core.enginecases import range_heavy, random_facts
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
engine = Engine(capacity=4)
facts = random_facts(range_heavy(1), 1)[0]
base = None
for v in range(240):
    doc = range_heavy(300, seed=v)
    engine.evaluate(doc, facts)
    if v == 39:
        base = rss()
print(base, rss(), engine.loaded(), engine.compilations)
"""


@pytest.mark.slow
def test_many_versions_with_bounded_memory() -> None:
    proc = _run_python(MEMORY_PROBE, timeout=300)
    assert proc.returncode == 0, proc.stderr
    base, end, loaded, compilations = map(int, proc.stdout.split())
    assert loaded == 4
    assert compilations == 240
    assert end - base < 40 * 2**20, f"RSS grew {(end - base) / 2**20:.1f} MiB over 200 versions"


def test_evicted_versions_are_reloaded_on_demand() -> None:
    engine = Engine(capacity=2)
    docs = [range_heavy(20, seed=s) for s in range(5)]
    facts = random_facts(docs[0], 3)
    first = [[engine.evaluate(d, f) for f in facts] for d in docs]
    again = [[engine.evaluate(d, f) for f in facts] for d in docs]
    assert first == again
    assert engine.loaded() == 2
    assert engine.compilations == 10


# Concurrency: the C calls hold the GIL, but assert/drain/retract must never interleave.
def test_eight_threads_share_versions_without_interference() -> None:
    engine = Engine(capacity=3)
    # 60 rules each: the same interleavings of evaluations and evictions as 150 (the
    # compilations of 150 cost a minute of CI)
    docs = [range_heavy(60, seed=s, with_category=True) for s in range(4)]
    facts = random_facts(docs[0], 150, seed=5)
    expected = {
        (d, i): reference_evaluate(docs[d], validate_facts(docs[d], f))
        for d in range(4)
        for i, f in enumerate(facts)
    }
    errors: list[str] = []

    def work(worker: int) -> None:
        for rounds in range(3):
            for i, f in enumerate(facts):
                d = (i + worker + rounds) % 4
                got = engine.evaluate(docs[d], f)
                if got != expected[(d, i)]:
                    errors.append(
                        f"worker {worker}: doc {d} facts {i}: {got} != {expected[(d, i)]}"
                    )

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert engine.compilations > len(docs)  # versions were evicted and compiled again


def test_results_are_identical_across_processes_and_hash_seeds() -> None:
    code = """
        import hashlib, json
        from tests.rules.core.enginecases import range_heavy, random_facts
        from rules.core.engine import evaluate
        doc = range_heavy(300, seed=3, with_category=True)
        out = [evaluate(doc, f).to_dict() for f in random_facts(doc, 300)]
        print(hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest())
    """
    digests = set()
    for seed in ("0", "1", "12345"):
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode == 0, proc.stderr
        digests.add(proc.stdout.strip())
    assert len(digests) == 1


def test_or_branches_that_both_match_count_once() -> None:
    doc = parse_document(
        {
            "name": "t",
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "n", "type": "integer"}],
            "hit_policy": "COLLECT",
            "aggregation": "COUNT",
            "rules": [
                {
                    "id": "wide",
                    "when": {
                        "any": [
                            {"input": "x", "op": "gt", "value": 1},
                            {"input": "x", "op": "gt", "value": 2},
                        ]
                    },
                    "then": {"n": 1},
                }
            ],
        }
    )
    result = evaluate(doc, {"x": 5})
    assert result.matched == ("wide",)
    assert result.outputs == {"n": 1}


def test_closing_frees_sessions_safely_whatever_the_last_decision() -> None:
    # The field notes saw delete_state segfault when a session's last fact matched nothing;
    # closing fires the close rule first so that case never arises. Each case runs in its own
    # process so a crash would show as a return code. (Without delete_state, eviction leaks:
    # test_many_versions_with_bounded_memory.)
    for last in ("none", "miss", "hit"):
        proc = _run_python(
            f"""
            from rules.core.engine import compile_document
            from tests.rules.core.enginecases import range_heavy, random_facts
            from rules.core.facts import validate_facts
            doc = range_heavy(300, seed=1)
            for _ in range(50):
                compiled = compile_document(doc)
                if {last!r} != "none":
                    facts = {{f"f{{i}}": 0.0 if {last!r} == "miss" else 50.0 for i in range(8)}}
                    compiled.evaluate(validate_facts(doc, facts))
                compiled.close()
            print("ok")
            """
        )
        assert (proc.returncode, proc.stdout.strip()) == (0, "ok"), (last, proc.stderr)
