"""The rulebook command line: exit codes, located messages, --json output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rules.cli import main

EXAMPLE = Path(__file__).parents[3] / "examples" / "mortgage.yaml"
TCK = Path(__file__).parents[2] / "data" / "tck" / "dmn"
GOOD = {
    "pirat": 0.25,
    "hirat": 0.2,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 1,
    "phist": False,
    "insurance": False,
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_eval_prints_the_decision_as_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["eval", str(EXAMPLE), "--facts", json.dumps(GOOD), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["outputs"] == {"outcome": "approve", "reason": "Low debt ratio and clean credit"}
    assert data["rule_ids"] == ["approve-clean-low-debt"]
    assert data["exception"] is False


def test_eval_names_every_bad_field(runner: CliRunner) -> None:
    facts = {**GOOD, "pirat": "high", "insurence": True}
    result = runner.invoke(main, ["eval", str(EXAMPLE), "--facts", json.dumps(facts), "--json"])
    assert result.exit_code == 1
    problems = {p["location"]: p for p in json.loads(result.output)["problems"]}
    assert problems["facts.pirat"]["message"] == "expected a number, got 'high'"
    assert problems["facts.insurence"]["suggestion"] == "insurance"


def test_eval_rejects_malformed_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["eval", str(EXAMPLE), "--facts", "{pirat: 1"])
    assert result.exit_code == 1
    assert "not valid JSON" in result.output


def test_check_reports_located_errors_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    bad = EXAMPLE.read_text().replace("{input: insurance, op: eq", "{input: insurnce, op: eq")
    bad = bad.replace(
        "op: le, value: 0.30}", "op: le, value: 0.30}\n        - {input: afam, op: eq, value: true}"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    result = runner.invoke(main, ["ruleset", "check", str(path), "--json"])
    assert result.exit_code == 1
    found = {(p["code"], p["location"]) for p in json.loads(result.output)["problems"]}
    assert ("RB101", "rules[0].when.input") in found
    assert ("RB104", "rules[1].when.all[1].input") in found


def test_check_passes_a_clean_document(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ruleset", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_check_reports_syntax_errors_with_a_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ninputs: [\n")
    result = runner.invoke(main, ["ruleset", "check", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["problems"][0]["location"].startswith("line ")


def test_dmn_verify_passes_a_tck_file_and_fails_a_wrong_one(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = TCK / "0004-simpletable-U"
    model = folder / "0004-simpletable-U.dmn"
    tests = folder / "0004-simpletable-U-test-01.xml"
    assert runner.invoke(main, ["dmn", "verify", str(model), str(tests)]).exit_code == 0
    wrong = tmp_path / "wrong.xml"
    wrong.write_text(tests.read_text().replace(">Approved<", ">Declined<", 1))
    result = runner.invoke(main, ["dmn", "verify", str(model), str(wrong)])
    assert result.exit_code == 1
    assert "FAIL" in result.output


def test_dmn_import_then_export_round_trips(runner: CliRunner, tmp_path: Path) -> None:
    model = TCK / "0108-first-hitpolicy" / "0108-first-hitpolicy.dmn"
    out = tmp_path / "doc.yaml"
    assert runner.invoke(main, ["dmn", "import", str(model), "-o", str(out)]).exit_code == 0
    exported = tmp_path / "back.dmn"
    assert runner.invoke(main, ["dmn", "export", str(out), "-o", str(exported)]).exit_code == 0
    again = tmp_path / "again.yaml"
    assert runner.invoke(main, ["dmn", "import", str(exported), "-o", str(again)]).exit_code == 0
    assert again.read_text() == out.read_text()
