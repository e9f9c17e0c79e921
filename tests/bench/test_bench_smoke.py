"""Keeps the engine benchmark (bench/engine.py) from rotting: tiny tables, tiny inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import engine as bench

FAST_ZEN = "ZenEngine(static loader).evaluate(key, dict)"


@pytest.mark.parametrize("shape", bench.SHAPES)
@pytest.mark.parametrize("policy", ["FIRST", "COLLECT"])
def test_evaluators_agree_on_a_small_table(shape: str, policy: str) -> None:
    doc = bench.make_document(shape, 10, policy)
    facts = bench.make_facts(shape, 20)
    prepared = bench.prepare(doc, facts, FAST_ZEN)
    assert bench.check_agreement(prepared, 20) == []


def test_the_agreement_check_notices_a_wrong_answer() -> None:
    doc = bench.make_document("range", 10)
    facts = bench.make_facts("range", 20)
    prepared = bench.prepare(doc, facts, FAST_ZEN)
    prepared.zen = lambda f: {"result": {"outcome": "approve", "code": "R9999"}}
    problems = bench.check_agreement(prepared, 20)
    assert len(problems) == 20
    assert all(p.what == "rulebook outputs != zen" for p in problems)


def test_jdm_cells_translate_each_condition() -> None:
    doc = bench.make_document("equality", 100)
    rows = bench.to_jdm(doc)["nodes"][1]["content"]["rules"]
    cells = {row["i1"][:1] for row in rows[:-1]}
    assert cells <= {">", "<", "[", "("}
    assert any(", " in row["i0"] for row in rows[:-1])
    assert rows[-1] == {"_id": "default", "i0": "", "i1": "", "o0": '"refer"', "o1": '"none"'}


def test_main_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "engine.json"
    args = ["--out", str(out), "--sizes", "10", "--shapes", "equality", "--collect"]
    args += ["--n", "40", "--repeats", "1", "--min-seconds", "0", "--zen-variant", FAST_ZEN]
    assert bench.main(args) == 0
    report = json.loads(out.read_text())
    assert report["zen_variant"] == FAST_ZEN
    (case,) = report["cases"]
    assert set(case["results"]) == {"rulebook", "rulebook_eval", "zen", "reference"}
    assert case["ratios"]["rulebook/zen"] > 0


def test_profile_prints_where_the_time_goes(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--profile", "range:10", "--n", "20"]) == 0
    assert "assert_fact" in capsys.readouterr().out
